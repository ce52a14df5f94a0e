"""`servespec model build|push` as a user runs them: messages, exit codes, the example spec."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from compiler.model import cli
from compiler.model.cli import model
from tests.conftest_artifact import HELDOUT, REPO
from tests.model.fake_artifact import make_fake_artifact

EXAMPLE = REPO / "spec" / "assistant.yaml"


def test_importing_the_cli_loads_no_heavy_package() -> None:
    code = (
        "import sys, compiler.model.cli; "
        "print(sorted(m for m in ('torch','transformers','optimum','boto3','onnxruntime')"
        " if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert out.stdout.strip() == "[]"


def test_help_lists_both_commands() -> None:
    result = CliRunner().invoke(model, ["--help"])
    assert result.exit_code == 0
    assert "build" in result.output and "push" in result.output


def test_missing_extra_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        cli.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "torch" else real(name, *a),
    )
    result = CliRunner().invoke(model, ["build", str(EXAMPLE)])
    assert result.exit_code == 1
    assert "pip install 'servespec[model]'" in result.output
    assert "Traceback" not in result.output


def test_unknown_environment_is_invalid_input() -> None:
    result = CliRunner().invoke(model, ["build", str(EXAMPLE), "--env", "nope"])
    assert result.exit_code == 2
    assert "nope" in result.output


@pytest.mark.slow
def test_build_the_example_spec(
    model_artifact: Path, model_cache_dir: Path, tmp_path: Path
) -> None:
    """The issue's acceptance command, reusing the stage cache the fixture filled."""
    out = tmp_path / "artifact"
    result = CliRunner().invoke(
        model,
        [
            "build",
            str(EXAMPLE),
            "--out",
            str(out),
            "--cache-dir",
            str(model_cache_dir),
            "--heldout",
            str(HELDOUT),
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(out)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["model"]["version"] == "2026-11-20"
    assert "[servespec model] resolve source done" in result.stderr  # progress on stderr


def test_push_through_the_cli(aws_reset: str, tmp_path: Path) -> None:
    pytest.importorskip("boto3")
    from compiler.model.s3 import client

    kms = client("kms", aws_reset, "eu-west-1")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/assistant-staging", TargetKeyId=key)
    client("s3", aws_reset, "eu-west-1").create_bucket(
        Bucket="assistant-staging-models-123456789012",
        CreateBucketConfiguration={"LocationConstraint": "eu-west-1"},
    )
    artifact = tmp_path / "a"
    make_fake_artifact(artifact, os.urandom(64), version="2026-11-20")
    # The example's staging account, refused: moto's account is 123456789012.
    args = ["push", str(EXAMPLE), "--env", "staging", str(artifact), "--endpoint-url", aws_reset]
    wrong = CliRunner().invoke(model, args)
    assert wrong.exit_code == 1 and "deploys to 111111111111" in wrong.stderr
    spec = tmp_path / "assistant.yaml"
    spec.write_text(EXAMPLE.read_text().replace('id: "111111111111"', 'id: "123456789012"'))
    args = ["push", str(spec), "--env", "staging", str(artifact), "--endpoint-url", aws_reset]
    first = CliRunner().invoke(model, args)
    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout)
    assert report["uri"] == (
        "s3://assistant-staging-models-123456789012/models/smollm2-135m-instruct/2026-11-20/"
    )
    assert CliRunner().invoke(model, args).stdout.count("manifest.json") == 1
    make_fake_artifact(artifact, os.urandom(64), version="2026-11-20")
    refused = CliRunner().invoke(model, args)
    assert refused.exit_code == 1
    assert "immutable" in refused.stderr
