"""boto3 plumbing shared by push and s3:// sources. Imported only by commands that use AWS."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

from compiler.model.artifact import staging
from compiler.model.errors import BuildError
from compiler.model.hashing import sha256_file

SHA256_METADATA = "sha256"  # stored as x-amz-meta-sha256: S3's own checksum of a multipart
# upload is a checksum of part checksums, so we keep the plain file hash beside it.
PART_SIZE = 8 * 1024 * 1024


def client(service: str, endpoint_url: str | None = None, region: str | None = None) -> Any:
    """A boto3 client; `endpoint_url` points it at an emulator such as moto_server."""
    import boto3

    return boto3.session.Session(region_name=region).client(service, endpoint_url=endpoint_url)


def transfer_config() -> Any:
    """Multipart above one part size, parts of PART_SIZE: the composite checksum relies on it."""
    from boto3.s3.transfer import TransferConfig

    return TransferConfig(multipart_threshold=PART_SIZE, multipart_chunksize=PART_SIZE)


def expected_checksum(path: Path) -> str:
    """The ChecksumSHA256 S3 reports for our upload of `path` (composite when multipart)."""
    size = path.stat().st_size
    if size < PART_SIZE:
        return base64.b64encode(bytes.fromhex(sha256_file(path))).decode()
    digests = b""
    parts = 0
    with path.open("rb") as handle:
        while chunk := handle.read(PART_SIZE):
            digests += hashlib.sha256(chunk).digest()
            parts += 1
    return f"{base64.b64encode(hashlib.sha256(digests).digest()).decode()}-{parts}"


def download_prefix(bucket: str, prefix: str, target: Path, endpoint_url: str | None) -> None:
    """Fetch every object under prefix once, checking each against its recorded sha256."""
    if target.is_dir() and any(target.iterdir()):
        return
    s3 = client("s3", endpoint_url)
    # A trailing slash, so that models/foo never also pulls in models/foobar/...
    prefix = prefix.rstrip("/") + "/" if prefix else ""
    keys = _list_keys(s3, bucket, prefix)
    if not keys:
        raise BuildError("resolve source", f"no objects under s3://{bucket}/{prefix}")
    with staging(target) as temp:
        for key in keys:
            local = (temp / key[len(prefix) :]).resolve()
            if not local.is_relative_to(temp.resolve()):  # a key such as "a/../../x"
                raise BuildError("resolve source", f"s3://{bucket}/{key}: unsafe object key")
            local.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, key, str(local))
            _check_download(s3, bucket, key, local)


def _list_keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def _check_download(s3: Any, bucket: str, key: str, local: Path) -> None:
    recorded = s3.head_object(Bucket=bucket, Key=key).get("Metadata", {}).get(SHA256_METADATA)
    if recorded is not None and recorded != sha256_file(local):
        raise BuildError("resolve source", f"s3://{bucket}/{key}: sha256 does not match")
