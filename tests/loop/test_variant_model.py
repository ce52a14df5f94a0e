"""Every variant's artifact can be built and pushed: `--variant`, and the deploy's list."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from compiler.loop.variant_model import UnknownVariant, variant_model
from compiler.model.cli import model
from compiler.spec import load_resolved
from compiler.spec.model import Adapter, VariantModel
from tests.model.fake_artifact import make_fake_artifact

SPEC = "spec/clinical-notes.yaml"


def test_a_variant_serves_its_version_and_its_own_adapter() -> None:
    spec = load_resolved(SPEC, "prod")
    current = variant_model(spec, "current")
    assert current.version == "2026-11-01" and current.source == spec.model.source
    tuned = spec.variants[1].model_copy(
        update={"model": VariantModel(adapter=Adapter(path="adapters/notes-v2"))}
    )
    spec = spec.model_copy(update={"variants": [spec.variants[0], tuned]})
    candidate = variant_model(spec, "candidate")
    assert candidate.adapter is not None and candidate.adapter.path == "adapters/notes-v2"
    with pytest.raises(UnknownVariant, match="current, candidate"):
        variant_model(spec, "nope")


def test_the_deploy_lists_every_variant() -> None:
    result = CliRunner().invoke(model, ["variants", SPEC, "--env", "prod"])
    assert json.loads(result.output) == [
        {"name": "current", "model_version": "2026-11-01", "weight": "90"},
        {"name": "candidate", "model_version": "2026-11-20", "weight": "10"},
    ]


def test_push_a_variant_under_its_version(aws_reset: str, tmp_path: Path) -> None:
    import boto3

    # The push refuses credentials for any account but the environment's account.id; moto
    # gives a role assumed in that account its own resources, as AWS would.
    sts = boto3.client("sts", endpoint_url=aws_reset, region_name="us-east-1")
    creds = sts.assume_role(
        RoleArn="arn:aws:iam::444444444444:role/deployer", RoleSessionName="test"
    )["Credentials"]
    env = {
        "AWS_ACCESS_KEY_ID": creds["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
        "AWS_SESSION_TOKEN": creds["SessionToken"],
    }
    session = boto3.session.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=env["AWS_SESSION_TOKEN"],
        region_name="us-east-1",
    )
    kms = session.client("kms", endpoint_url=aws_reset)
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/clinical-notes-prod", TargetKeyId=key)
    session.client("s3", endpoint_url=aws_reset).create_bucket(
        Bucket="clinical-notes-prod-models-444444444444"
    )
    artifact = tmp_path / "current"
    make_fake_artifact(artifact, os.urandom(64), version="2026-11-01", name="clinical-notes-llm")
    args = ["push", SPEC, "--env", "prod", str(artifact), "--endpoint-url", aws_reset]
    pushed = CliRunner(env=env).invoke(model, [*args, "--variant", "current"])
    assert pushed.exit_code == 0, pushed.output
    assert json.loads(pushed.stdout)["uri"].endswith("/models/clinical-notes-llm/2026-11-01/")
    unknown = CliRunner(env=env).invoke(model, [*args, "--variant", "nope"])
    assert unknown.exit_code == 2 and "no variant 'nope'" in unknown.output
