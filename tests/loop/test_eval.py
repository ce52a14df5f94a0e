"""`servespec eval`: checks, suites, the gate, and a worse candidate refused end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from compiler.cli import cli
from compiler.loop.evaluate import gate
from compiler.loop.suite import Check, SuiteError, load_suite, passes, score_case
from tests.runtime import builders

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "eval" / "assistant.yaml"


@pytest.mark.parametrize(
    ("check", "answer", "expected"),
    [
        ({"exact": "Paris."}, " Paris. ", True),
        ({"exact": "Paris."}, "Paris!", False),
        ({"contains": "paris"}, "It is Paris.", True),
        ({"regex": r"\b4\b"}, "2 + 2 = 4", True),
        ({"regex": r"\b4\b"}, "42", False),
        ({"json_schema": {"type": "object", "required": ["a"]}}, '{"a": 1}', True),
        ({"json_schema": {"type": "object", "required": ["a"]}}, '```json {"a": 1}', False),
        ({"reference": 0.6}, "The capital is Paris", True),
        ({"reference": 0.6}, "I do not know", False),
    ],
)
def test_checks(check: dict[str, object], answer: str, expected: bool) -> None:
    assert passes(Check.model_validate(check), answer, "the capital is Paris") is expected


def test_a_case_scores_the_share_of_checks_that_pass() -> None:
    suite = load_suite(SUITE)
    scored = score_case(suite.cases[0], "Paris, I think", None)
    assert scored["score"] == pytest.approx(1 / 3)  # contains yes; regex and reference no


def test_bad_suites_name_the_place(tmp_path: Path) -> None:
    jsonl = tmp_path / "s.jsonl"
    jsonl.write_text('{"id": "a", "prompt": "x", "checks": [{"contains": "y"}]}\n{nope\n')
    with pytest.raises(SuiteError, match=r"s.jsonl:2: not JSON"):
        load_suite(jsonl)
    both = tmp_path / "b.yaml"
    both.write_text("version: 1\ncases: [{id: a, prompt: x, checks: [{contains: y, regex: z}]}]\n")
    with pytest.raises(SuiteError, match=r"cases\.0\.checks\.0"):
        load_suite(both)


def test_gate() -> None:
    assert gate(0.8, 0.8, 0.0, 0.0)[0]
    assert gate(0.76, 0.8, 0.05, 0.0)[0]
    assert not gate(0.7, 0.8, 0.05, 0.0)[0]
    assert not gate(0.9, None, 0.0, 0.95)[0]


@pytest.mark.slow
def test_eval_passes_the_model_and_refuses_a_worse_candidate(model_artifact: Path) -> None:
    runner = CliRunner()
    spec = ["--spec", str(ROOT / "spec" / "assistant.yaml"), "--env", "prod"]
    good = runner.invoke(cli, ["eval", str(model_artifact), *spec, "--format", "json"])
    assert good.exit_code == 0, good.output
    result = json.loads(good.stdout)
    assert result["passed"] and result["score"] >= 0.6
    assert result["suite"]["version"] == 1 and len(result["suite"]["sha256"]) == 64
    worse = builders.tiny_artifact()  # random weights: the deliberately worse candidate
    refused = runner.invoke(cli, ["eval", str(worse), *spec, "--baseline", str(model_artifact)])
    assert refused.exit_code == 1, refused.output
    assert "REFUSED" in refused.stdout and "below the baseline" in refused.stdout


def test_a_pushed_artifact_is_a_baseline(aws_reset: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The deploy's gate names the deployed model by its s3:// URI (moto_server here)."""
    import boto3

    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_reset)
    artifact = builders.tiny_artifact()
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="models")
    for path in sorted(artifact.iterdir()):
        s3.upload_file(str(path), "models", f"models/m/1/{path.name}")
    runner = CliRunner()
    args = ["eval", str(artifact), "--suite", str(SUITE), "--format", "json"]
    found = runner.invoke(cli, [*args, "--baseline", "s3://models/models/m/1/"])
    assert found.exit_code == 0, found.output
    result = json.loads(found.stdout)
    # The baseline was served from the copy read back from S3 and scored.
    assert result["baseline_score"] is not None and result["passed"]
    missing = runner.invoke(cli, [*args, "--baseline", "s3://models/models/m/2/"])
    assert missing.exit_code == 1
    assert "cannot download s3://models/models/m/2/" in missing.output
