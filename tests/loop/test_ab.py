"""`servespec ab report`: verdicts on synthetic capture records with known answers."""

from __future__ import annotations

import json
import random
from pathlib import Path

import boto3
import pytest
from click.testing import CliRunner

from compiler.cli import cli
from compiler.loop import stats
from compiler.loop.ab import report
from compiler.loop.records import Record


def _records(name: str, n: int, positive: float, latency: float, seed: int) -> list[Record]:
    rng = random.Random(seed)
    found: list[Record] = []
    for i in range(n):
        rid = f"chatcmpl-{name}-{i}"
        found.append(
            {
                "type": "request",
                "id": rid,
                "time": "2026-01-01T00:00:00Z",
                "variant": name,
                "model_version": f"v-{name}",
                "key_id": f"k{i % 3}",
                "status": 500 if i % 50 == 0 else 200,
                "prompt_tokens": 10,
                "completion_tokens": 20,
                "ttft_ms": latency / 4 + rng.random() * 10,
                "latency_ms": latency + rng.random() * 100,
            }
        )
        rating = 1 if rng.random() < positive else -1
        found.append({"type": "feedback", "id": rid, "time": "t", "rating": rating})
    return found


def _write(path: Path, records: list[Record]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_a_clearly_better_variant_wins() -> None:
    records = _records("a", 300, 0.5, 400, 1) + _records("b", 300, 0.75, 400, 2)
    result = report(records, "positive_feedback_rate")
    assert result["winner"] == "b" and result["p_value"] < 0.001
    assert result["test"] == "two_proportion_z"
    b = result["variants"]["b"]
    assert b["requests"] == 300 and b["errors"] == 6 and b["feedback"] == 300
    low, high = b["positive_feedback_rate_ci95"]
    assert low < b["positive_feedback_rate"] < high


def test_too_few_observations_are_undecided_with_the_size_needed() -> None:
    records = _records("a", 20, 0.5, 400, 3) + _records("b", 20, 0.7, 400, 4)
    result = report(records, "positive_feedback_rate")
    assert result["winner"] is None
    assert result["needed_per_variant"] > 20
    assert "needed" in result["verdict"]


def test_latency_uses_mann_whitney_and_lower_wins() -> None:
    records = _records("a", 100, 0.5, 400, 5) + _records("b", 100, 0.5, 900, 6)
    result = report(records, "latency_ms")
    assert result["test"] == "mann_whitney_u" and result["winner"] == "a"


def test_statistics_match_textbook_values() -> None:
    # 40/100 vs 60/100: z = -2.83, two-sided p = 0.0047
    assert stats.proportions_test(40, 100, 60, 100)[1] == pytest.approx(0.0047, abs=2e-4)
    assert stats.proportions_test(1, 10, 9, 10)[0] == "fisher_exact"
    # 10 % vs 15 %, 80 % power, alpha 0.05: 686 per group (Fleiss without correction)
    assert stats.proportions_sample_size(0.10, 0.15) == pytest.approx(686, abs=2)
    low, high = stats.wilson(0, 10)
    assert low == 0 and 0.27 < high < 0.29


def test_cli_reads_files_and_s3_and_prints_json(tmp_path: Path, aws_reset: str) -> None:
    _write(tmp_path / "a.jsonl", _records("a", 200, 0.4, 400, 7))
    s3 = boto3.client("s3", endpoint_url=aws_reset, region_name="eu-west-1")
    s3.create_bucket(Bucket="cap", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    body = "".join(json.dumps(r) + "\n" for r in _records("b", 200, 0.8, 400, 8))
    s3.put_object(Bucket="cap", Key="records/variant=b/x.jsonl", Body=body.encode())
    args = ["report", str(tmp_path / "a.jsonl"), "s3://cap/records/", "--format", "json"]
    result = CliRunner().invoke(cli, ["ab", *args, "--endpoint-url", aws_reset])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["metric"] == "positive_feedback_rate" and data["winner"] == "b"
    assert set(data["variants"]) == {"a", "b"}
    text = CliRunner().invoke(cli, ["ab", "report", str(tmp_path / "a.jsonl")])
    assert "undecided" in text.output and "a " in text.output


def test_a_bad_line_is_an_error_naming_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"type": "request", "id": "x"}) + "\n{oops\n")
    result = CliRunner().invoke(cli, ["ab", "report", str(path)])
    assert result.exit_code == 2 and f"{path}:2: not JSON" in result.output
