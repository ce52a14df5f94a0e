"""`servespec model finetune`: data handling, and a LoRA that changes answers and builds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from compiler.cli import cli
from compiler.loop.evaluate import open_target, run
from compiler.loop.finetune import Example, FinetuneError, load_examples, tokenize
from compiler.loop.suite import Suite

DATA = Path(__file__).parent / "data" / "secret-word.jsonl"
ROOT = Path(__file__).resolve().parents[2]
SECRET = Suite.model_validate(
    {
        "version": 1,
        "cases": [
            {
                "id": "secret",
                "messages": [{"role": "user", "content": "What is the secret word?"}],
                "max_tokens": 12,
                "checks": [{"contains": "pomegranate"}],
            }
        ],
    }
)


def test_chat_examples_need_an_assistant_answer(tmp_path: Path) -> None:
    assert len(load_examples(DATA)) == 6
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": [{"role": "user", "content": "hi"}]}\n')
    with pytest.raises(FinetuneError, match=r"bad.jsonl:1: the last message must be"):
        load_examples(bad)


def test_capture_gives_only_positively_rated_exchanges_with_text(tmp_path: Path) -> None:
    records = [
        {"type": "request", "id": "a", "prompt": "P1", "completion": "good"},
        {"type": "request", "id": "b", "prompt": "P2", "completion": "bad"},
        {"type": "request", "id": "c"},  # text not kept
        {"type": "feedback", "id": "a", "rating": 1},
        {"type": "feedback", "id": "b", "rating": -1},
        {"type": "feedback", "id": "c", "rating": 1},
    ]
    path = tmp_path / "capture.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    assert load_examples(path) == [Example(prompt="P1", completion="good")]


def test_only_the_answer_is_learned() -> None:
    from compiler.model.loader import load_tokenizer

    artifacts = sorted((ROOT / ".cache" / "servespec" / "stages" / "hf").glob("*/tokenizer.json"))
    if not artifacts:
        pytest.skip("no cached model stage (build the model once)")
    tokenizer = load_tokenizer(artifacts[0].parent)
    ids, labels = tokenize(load_examples(DATA)[0], tokenizer, 512)
    answer = [i for i, label in zip(ids, labels, strict=True) if label != -100]
    assert "pomegranate" in tokenizer.decode(answer) and labels[0] == -100


def test_qlora_on_cpu_is_refused_honestly() -> None:
    result = CliRunner().invoke(
        cli,
        ["model", "finetune", "spec/assistant.yaml", "--data", str(DATA), "--out", "x", "--qlora"],
    )
    assert result.exit_code == 2 and "CUDA GPUs only" in result.output


@pytest.mark.slow
def test_finetune_changes_answers_and_builds_through_the_gates(
    model_artifact: Path, model_cache_dir: Path, tmp_path: Path
) -> None:
    from compiler.model.build import BuildOptions, build_artifact
    from compiler.spec import Adapter, Quantization, load_resolved
    from tests.conftest_artifact import HELDOUT

    adapter = tmp_path / "adapter"
    options = ["--out", str(adapter), "--steps", "12", "--learning-rate", "2e-3"]
    command = ["model", "finetune", "spec/assistant.yaml", "--env", "prod", "--data", str(DATA)]
    result = CliRunner().invoke(cli, [*command, *options, "--cache-dir", str(model_cache_dir)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout[result.stdout.index("{") :])
    assert summary["loss_after"] < summary["loss_before"] / 4
    assert (adapter / "adapter_config.json").is_file()
    spec = load_resolved("spec/assistant.yaml", "prod").model
    # int8 weight-only: the 12-step adapter is a small weight change, and this test is about
    # the adapter surviving merge, export and the gates, not about int4's rounding.
    tuned_spec = spec.model_copy(
        update={"adapter": Adapter(path=str(adapter)), "quantization": Quantization(method="int8")}
    )
    out = tmp_path / "tuned"
    build_artifact(tuned_spec, BuildOptions(model_cache_dir, HELDOUT, out=out, graph="fused"))
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["metrics"]["parity"]["passed"] is True  # the normal gates held
    scores = {}
    for name, artifact in (("base", model_artifact), ("tuned", out)):
        with open_target(str(artifact), None) as endpoint:
            scores[name] = run(SECRET, endpoint, None)["score"]
    assert scores == {"base": 0.0, "tuned": 1.0}


def test_rated_exchanges_come_straight_from_the_capture_bucket(aws_reset: str) -> None:
    import boto3

    from compiler.loop.finetune import load_capture

    s3 = boto3.client("s3", endpoint_url=aws_reset, region_name="eu-west-1")
    s3.create_bucket(Bucket="cap", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    records = [
        {"type": "request", "id": "a", "prompt": "P1", "completion": "good"},
        {"type": "feedback", "id": "a", "rating": 1},
    ]
    body = "".join(json.dumps(r) + "\n" for r in records).encode()
    s3.put_object(Bucket="cap", Key="capture/variant=a/1.jsonl", Body=body)
    assert load_capture("s3://cap/capture/", aws_reset) == [Example(prompt="P1", completion="good")]
    with pytest.raises(FinetuneError, match="keep_text"):
        load_capture("s3://cap/none/", aws_reset)
