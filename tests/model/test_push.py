"""`model push` against a real moto_server: SSE-KMS, checksums, idempotence, immutability."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

import pytest

from compiler.model.errors import PushError
from compiler.model.push import PushTarget, push_artifact, resolve_target
from compiler.model.s3 import PART_SIZE, client, expected_checksum
from tests.model.fake_artifact import make_fake_artifact

pytest.importorskip("boto3")

REGION = "eu-west-1"
NAME = "smollm2-135m-instruct"


@pytest.fixture
def target(aws_reset: str) -> PushTarget:
    """The deployment's key (by alias) and bucket, as terraform would have created them."""
    kms = client("kms", aws_reset, REGION)
    key_id = kms.create_key(Description="assistant prod")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/assistant-prod", TargetKeyId=key_id)
    resolved = resolve_target("assistant", "prod", NAME, "v1", aws_reset, REGION)
    client("s3", aws_reset, REGION).create_bucket(
        Bucket=resolved.bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    return resolved


@pytest.fixture
def artifact(tmp_path: Path) -> Path:
    """Big enough that model.onnx goes up in two parts."""
    make_fake_artifact(tmp_path / "v1", os.urandom(PART_SIZE + 1024))
    return tmp_path / "v1"


def test_target_comes_from_sts_and_the_alias(target: PushTarget) -> None:
    assert target.bucket == "assistant-prod-models-123456789012"
    assert target.prefix == f"models/{NAME}/v1/"
    assert target.kms_key_arn.startswith("arn:aws:kms:eu-west-1:123456789012:key/")


def test_push_encrypts_with_the_key_and_stores_checksums(
    target: PushTarget, artifact: Path, aws_reset: str
) -> None:
    result = push_artifact(artifact, target, NAME, "v1", aws_reset, REGION)
    assert result.uploaded[-1] == "manifest.json"
    assert sorted(result.uploaded) == sorted(p.name for p in artifact.iterdir())
    s3 = client("s3", aws_reset, REGION)
    for name in result.uploaded:
        head = s3.head_object(
            Bucket=target.bucket, Key=f"{target.prefix}{name}", ChecksumMode="ENABLED"
        )
        assert head["ServerSideEncryption"] == "aws:kms"
        assert target.kms_key_arn.endswith(head["SSEKMSKeyId"].split("/")[-1])
        assert head["ChecksumSHA256"]
        local = (artifact / name).read_bytes()
        assert head["Metadata"]["sha256"] == hashlib.sha256(local).hexdigest()
    small = s3.head_object(
        Bucket=target.bucket, Key=f"{target.prefix}config.json", ChecksumMode="ENABLED"
    )
    digest = hashlib.sha256((artifact / "config.json").read_bytes()).digest()
    assert small["ChecksumSHA256"] == base64.b64encode(digest).decode()
    big = s3.head_object(
        Bucket=target.bucket, Key=f"{target.prefix}model.onnx", ChecksumMode="ENABLED"
    )
    assert big["ChecksumSHA256"].split("-")[0] == expected_checksum(artifact / "model.onnx")[:-2]
    assert expected_checksum(artifact / "model.onnx").endswith("-2"), "a 2-part upload"


def test_repush_of_the_same_artifact_uploads_nothing(
    target: PushTarget, artifact: Path, aws_reset: str
) -> None:
    push_artifact(artifact, target, NAME, "v1", aws_reset, REGION)
    again = push_artifact(artifact, target, NAME, "v1", aws_reset, REGION)
    assert again.uploaded == []
    assert len(again.skipped) == len(list(artifact.iterdir()))


def test_a_different_artifact_under_the_same_version_is_refused(
    target: PushTarget, artifact: Path, tmp_path: Path, aws_reset: str
) -> None:
    push_artifact(artifact, target, NAME, "v1", aws_reset, REGION)
    other = tmp_path / "other"
    make_fake_artifact(other, os.urandom(1024))
    with pytest.raises(PushError, match="immutable") as info:
        push_artifact(other, target, NAME, "v1", aws_reset, REGION)
    assert "model.onnx" in str(info.value)
    s3 = client("s3", aws_reset, REGION)
    body = s3.get_object(Bucket=target.bucket, Key=f"{target.prefix}model.onnx")["Body"].read()
    assert body == (artifact / "model.onnx").read_bytes()


def _put_by_hand(s3, target: PushTarget, path: Path, **extra: str) -> None:  # type: ignore[no-untyped-def]
    body = path.read_bytes()
    s3.put_object(
        Bucket=target.bucket,
        Key=f"{target.prefix}{path.name}",
        Body=body,
        Metadata={"sha256": hashlib.sha256(body).hexdigest()},
        **extra,
    )


def test_an_interrupted_push_resumes(target: PushTarget, artifact: Path, aws_reset: str) -> None:
    s3 = client("s3", aws_reset, REGION)
    _put_by_hand(
        s3,
        target,
        artifact / "config.json",
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=target.kms_key_arn,
    )
    result = push_artifact(artifact, target, NAME, "v1", aws_reset, REGION)
    assert result.skipped == ["config.json"]


def test_same_bytes_without_the_key_are_uploaded_again(
    target: PushTarget, artifact: Path, aws_reset: str
) -> None:
    s3 = client("s3", aws_reset, REGION)
    _put_by_hand(s3, target, artifact / "config.json")
    result = push_artifact(artifact, target, NAME, "v1", aws_reset, REGION)
    assert "config.json" in result.uploaded
    head = s3.head_object(Bucket=target.bucket, Key=f"{target.prefix}config.json")
    assert head["ServerSideEncryption"] == "aws:kms"


def test_a_damaged_artifact_is_not_pushed(
    target: PushTarget, artifact: Path, aws_reset: str
) -> None:
    (artifact / "tokenizer.json").write_text("tampered")
    with pytest.raises(PushError, match="not intact"):
        push_artifact(artifact, target, NAME, "v1", aws_reset, REGION)


def test_an_artifact_of_another_version_is_not_pushed(
    target: PushTarget, artifact: Path, aws_reset: str
) -> None:
    with pytest.raises(PushError, match="rebuild"):
        push_artifact(artifact, target, NAME, "v2", aws_reset, REGION)


def test_a_missing_key_alias_is_a_clear_error(aws_reset: str) -> None:
    with pytest.raises(PushError, match="alias/assistant-staging"):
        resolve_target("assistant", "staging", NAME, "v1", aws_reset, REGION)


def test_credentials_for_another_account_are_refused(aws_reset: str) -> None:
    # moto's account is 123456789012; the spec says the environment lives elsewhere.
    with pytest.raises(PushError, match="deploys to 222222222222"):
        resolve_target("assistant", "prod", NAME, "v1", aws_reset, REGION, "222222222222")


def test_credentials_for_the_specs_account_are_accepted(target: PushTarget, aws_reset: str) -> None:
    again = resolve_target("assistant", "prod", NAME, "v1", aws_reset, REGION, "123456789012")
    assert again == target
