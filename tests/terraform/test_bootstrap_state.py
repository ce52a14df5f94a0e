"""The bootstrap's documented two-step first apply, run with real terraform against moto:
a local apply (backend_override.tf), then `init -migrate-state` into the emitted S3 backend.

Only the emitted `backend "s3"` block is used (with one output instead of the resources), so
no provider is downloaded; moto stands in for the bucket and key the first apply creates.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import boto3
import pytest

from compiler.terraform import emit

from ..workflows.helpers import environments

pytestmark = pytest.mark.skipif(shutil.which("terraform") is None, reason="no terraform")

ROOT = "generated/assistant/bootstrap/111111111111"


def _backend_block() -> str:
    versions = next(
        a.content for a in emit(environments("assistant")) if a.path == f"{ROOT}/versions.tf"
    )
    body = versions.split('backend "s3" {', 1)[1].split("}", 1)[0]
    return 'backend "s3" {' + body + "}"


def _terraform(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TF_IN_AUTOMATION": "1", "TF_CLI_ARGS": "-no-color"}
    return subprocess.run(
        ["terraform", *args], cwd=folder, env=env, capture_output=True, text=True, timeout=120
    )


def test_first_apply_is_local_then_migrates_into_the_bucket(aws_reset: str, tmp_path: Path) -> None:
    backend = _backend_block()
    bucket = backend.split("bucket", 1)[1].split('"')[1]
    key = backend.split("key ", 1)[1].split('"')[1]
    clients = {"endpoint_url": aws_reset, "region_name": "eu-west-1"}
    s3, kms = boto3.client("s3", **clients), boto3.client("kms", **clients)
    (tmp_path / "versions.tf").write_text(
        "terraform {\n" + backend + '\n}\noutput "ok" {\n  value = 1\n}\n'
    )
    # Step 1: the bucket does not exist yet, so the first apply keeps its state locally.
    (tmp_path / "backend_override.tf").write_text('terraform {\n  backend "local" {}\n}\n')
    assert _terraform(tmp_path, "init", "-input=false").returncode == 0
    applied = _terraform(tmp_path, "apply", "-auto-approve", "-input=false")
    assert applied.returncode == 0, applied.stderr
    assert (tmp_path / "terraform.tfstate").exists()
    # What the first apply creates (state.tf): the bucket and the key behind the alias.
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/assistant-tfstate", TargetKeyId=key_id)
    # Step 2: drop the override and move the state into the bucket.
    (tmp_path / "backend_override.tf").unlink()
    (tmp_path / "moto.hcl").write_text(
        f'endpoints = {{ s3 = "{aws_reset}", sts = "{aws_reset}" }}\n'
        "skip_credentials_validation = true\nskip_requesting_account_id = true\n"
        "use_path_style = true\n"
    )
    migrated = _terraform(
        tmp_path,
        "init",
        "-migrate-state",
        "-force-copy",
        "-input=false",
        "-backend-config=moto.hcl",
    )
    assert migrated.returncode == 0, migrated.stderr
    stored = s3.head_object(Bucket=bucket, Key=key)
    assert stored["ServerSideEncryption"] == "aws:kms"
    assert b'"ok"' in s3.get_object(Bucket=bucket, Key=key)["Body"].read()
