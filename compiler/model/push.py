"""`model push`: upload an artifact to its immutable S3 prefix under the deployment's KMS key.

Idempotent: a file already there with the same sha256 is skipped. Immutable: a different
file under an existing version is refused, because running services and rollbacks trust
that `models/<name>/<version>/` never changes. manifest.json goes last, so a version exists
only once every file it lists is in place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compiler.model.artifact import MANIFEST, read_manifest, verify_artifact
from compiler.model.errors import PushError
from compiler.model.naming import kms_alias_name, model_prefix, models_bucket_name
from compiler.model.progress import TransferProgress, log
from compiler.model.s3 import SHA256_METADATA, client, expected_checksum, transfer_config


@dataclass(frozen=True)
class PushTarget:
    """Where one model version goes, resolved from the spec and the AWS account."""

    bucket: str
    prefix: str
    kms_key_arn: str


@dataclass
class PushResult:
    uploaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def resolve_target(
    deployment: str,
    environment: str,
    model_name: str,
    version: str,
    endpoint_url: str | None,
    region: str | None,
    expected_account: str | None = None,
) -> PushTarget:
    """Account id from STS, key from the deployment's alias: nothing hard-coded per account.
    With `expected_account` (the spec's account.id), credentials for any other account are
    refused before anything is read or written there."""
    account = client("sts", endpoint_url, region).get_caller_identity()["Account"]
    if expected_account is not None and account != expected_account:
        raise PushError(
            f"the credentials are for AWS account {account}, but {deployment} {environment} "
            f"deploys to {expected_account} (account.id): use that account's credentials"
        )
    alias = kms_alias_name(deployment, environment)
    try:
        key = client("kms", endpoint_url, region).describe_key(KeyId=alias)["KeyMetadata"]
    except Exception as exc:
        raise PushError(f"KMS key {alias} not found: {exc}") from exc
    bucket = models_bucket_name(deployment, environment, account)
    return PushTarget(bucket, model_prefix(model_name, version), key["Arn"])


def push_artifact(
    artifact: Path,
    target: PushTarget,
    model_name: str,
    version: str,
    endpoint_url: str | None = None,
    region: str | None = None,
) -> PushResult:
    """Verify locally, upload what is missing, refuse conflicts, verify what S3 stored."""
    manifest = _checked_manifest(artifact, model_name, version)
    s3 = client("s3", endpoint_url, region)
    names = [*sorted(manifest["files"]), MANIFEST]
    plan = {name: _remote_state(s3, target, artifact / name) for name in names}
    conflicts = [name for name, state in plan.items() if state == "different"]
    if conflicts:
        raise PushError(
            f"s3://{target.bucket}/{target.prefix} already holds a different artifact "
            f"({', '.join(conflicts)} differ); versions are immutable: set a new model.version"
        )
    result = PushResult()
    for name in names:
        if plan[name] == "same":
            result.skipped.append(name)
            continue
        _upload(s3, target, artifact / name)
        _verify_remote(s3, target, artifact / name)
        result.uploaded.append(name)
    log(f"pushed {len(result.uploaded)} files, skipped {len(result.skipped)} identical")
    return result


def _checked_manifest(artifact: Path, model_name: str, version: str) -> dict[str, Any]:
    problems = verify_artifact(artifact)
    if problems:
        raise PushError(f"artifact {artifact} is not intact: {'; '.join(problems)}")
    manifest = read_manifest(artifact)
    built = (manifest["model"]["name"], manifest["model"]["version"])
    if built != (model_name, version):
        raise PushError(
            f"artifact was built for {built[0]} {built[1]}, "
            f"the spec says {model_name} {version}: rebuild it"
        )
    return manifest


def _key(target: PushTarget, path: Path) -> str:
    return f"{target.prefix}{path.name}"


def _remote_state(s3: Any, target: PushTarget, path: Path) -> str:
    """'missing', 'same' or 'different', judged by the sha256 we stored at upload."""
    from botocore.exceptions import ClientError

    from compiler.model.hashing import sha256_file

    try:
        head = s3.head_object(Bucket=target.bucket, Key=_key(target, path))
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return "missing"
        raise PushError(f"cannot read s3://{target.bucket}/{_key(target, path)}: {exc}") from exc
    if head.get("Metadata", {}).get(SHA256_METADATA) != sha256_file(path):
        return "different"
    # Same bytes but not under our key (e.g. copied in by hand): upload again, encrypted.
    encrypted = head.get("ServerSideEncryption") == "aws:kms" and _same_key(
        head.get("SSEKMSKeyId", ""), target.kms_key_arn
    )
    return "same" if encrypted else "missing"


def _upload(s3: Any, target: PushTarget, path: Path) -> None:
    from compiler.model.hashing import sha256_file

    extra = {
        "ServerSideEncryption": "aws:kms",
        "SSEKMSKeyId": target.kms_key_arn,
        "ChecksumAlgorithm": "SHA256",
        "Metadata": {SHA256_METADATA: sha256_file(path)},
    }
    progress = TransferProgress(path.name, path.stat().st_size)
    s3.upload_file(
        str(path),
        target.bucket,
        _key(target, path),
        ExtraArgs=extra,
        Config=transfer_config(),
        Callback=progress,
    )
    progress.close()


def _verify_remote(s3: Any, target: PushTarget, path: Path) -> None:
    """Check what S3 stored: emulators accept wrong checksums, so trust nothing unread."""
    key = _key(target, path)
    head = s3.head_object(Bucket=target.bucket, Key=key, ChecksumMode="ENABLED")
    problems = []
    if head.get("ContentLength") != path.stat().st_size:
        problems.append(f"size {head.get('ContentLength')} != {path.stat().st_size}")
    if not _same_checksum(head.get("ChecksumSHA256"), expected_checksum(path)):
        problems.append(f"ChecksumSHA256 {head.get('ChecksumSHA256')} != {expected_checksum(path)}")
    if head.get("ServerSideEncryption") != "aws:kms":
        problems.append(f"encryption {head.get('ServerSideEncryption')} is not aws:kms")
    if not _same_key(head.get("SSEKMSKeyId", ""), target.kms_key_arn):
        problems.append(f"KMS key {head.get('SSEKMSKeyId')} is not {target.kms_key_arn}")
    if problems:
        raise PushError(f"s3://{target.bucket}/{key} failed verification: {'; '.join(problems)}")


def _same_checksum(reported: str | None, expected: str) -> bool:
    """S3 suffixes a multipart (composite) checksum with `-<parts>`; moto leaves it off."""
    if reported is None:
        return False
    return reported == expected or ("-" not in reported and expected.startswith(f"{reported}-"))


def _same_key(reported: str, arn: str) -> bool:
    """S3 may report the key as an ARN or a bare key id."""
    return reported == arn or arn.endswith(f"/{reported}")
