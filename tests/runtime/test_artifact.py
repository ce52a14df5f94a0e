"""Artifact verification: directory and s3:// (against a real moto server process)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx
import pytest

from runtime.artifact import ArtifactError, open_artifact, verify
from tests.runtime.conftest import free_port


@pytest.fixture
def copy(tiny_artifact: Path, tmp_path: Path) -> Path:
    target = tmp_path / "artifact"
    shutil.copytree(tiny_artifact, target)
    return target


def test_a_good_artifact_verifies(copy: Path) -> None:
    artifact = verify(copy)
    assert artifact.name == "tiny-llama" and artifact.eos_token_ids == (2,)
    assert artifact.graph.num_layers == 2 and artifact.graph.has_position_ids


def test_a_changed_byte_is_rejected(copy: Path) -> None:
    data = bytearray((copy / "tokenizer.json").read_bytes())
    data[100] ^= 1
    (copy / "tokenizer.json").write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match=r"tokenizer.json: sha256 [0-9a-f]{64} != manifest"):
        verify(copy)


def test_a_missing_file_is_rejected(copy: Path) -> None:
    (copy / "chat_template.jinja").unlink()
    with pytest.raises(ArtifactError, match=r"chat_template\.jinja: missing"):
        verify(copy)


def test_a_file_left_out_of_the_manifest_is_not_trusted(copy: Path) -> None:
    # Dropping the template from the manifest and swapping it must not pass verification.
    manifest = json.loads((copy / "manifest.json").read_text())
    del manifest["files"]["chat_template.jinja"]
    (copy / "manifest.json").write_text(json.dumps(manifest))
    (copy / "chat_template.jinja").write_text("{{ 'swapped' }}")
    with pytest.raises(ArtifactError, match="must list"):
        verify(copy)


def test_a_manifest_escaping_the_directory_is_rejected(copy: Path) -> None:
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["files"]["../outside"] = {"sha256": "0" * 64, "size": 1}
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="unsafe file name"):
        verify(copy)


def test_a_foreign_manifest_is_rejected(copy: Path) -> None:
    (copy / "manifest.json").write_text('{"format": "other/1"}')
    with pytest.raises(ArtifactError, match="format"):
        verify(copy)


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    port = free_port()
    moto = Path(sys.executable).with_name("moto_server")
    process = subprocess.Popen(
        [str(moto), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


def _upload(endpoint: str, source: Path, bucket: str) -> object:
    s3 = boto3.client("s3", endpoint_url=endpoint)
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    for path in source.iterdir():
        s3.upload_file(str(path), bucket, f"models/v1/{path.name}")
    return s3


@pytest.mark.usefixtures("aws_env")
def test_s3_artifact_downloads_and_verifies(
    s3_endpoint: str, tiny_artifact: Path, tmp_path: Path
) -> None:
    s3 = _upload(s3_endpoint, tiny_artifact, "good")
    s3.put_object(Bucket="good", Key="models/v1/planted.bin", Body=b"not listed")  # type: ignore[attr-defined]
    artifact = open_artifact(
        "s3://good/models/v1", cache_dir=tmp_path / "dl", s3_endpoint_url=s3_endpoint
    )
    assert artifact.name == "tiny-llama"
    assert sorted(os.listdir(artifact.root)) == sorted(os.listdir(tiny_artifact))
    assert artifact.root.parent == tmp_path / "dl"  # one directory per artifact URI


@pytest.mark.usefixtures("aws_env")
def test_s3_tampered_object_is_rejected(
    s3_endpoint: str, tiny_artifact: Path, tmp_path: Path
) -> None:
    s3 = _upload(s3_endpoint, tiny_artifact, "tampered")
    s3.put_object(Bucket="tampered", Key="models/v1/chat_template.jinja", Body=b"{{ evil }}")  # type: ignore[attr-defined]
    with pytest.raises(ArtifactError, match=r"chat_template\.jinja: size"):
        open_artifact(
            "s3://tampered/models/v1", cache_dir=tmp_path / "dl", s3_endpoint_url=s3_endpoint
        )


@pytest.mark.usefixtures("aws_env")
def test_s3_missing_bucket_is_an_artifact_error(s3_endpoint: str, tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="cannot download s3://absent/x"):
        open_artifact("s3://absent/x", cache_dir=tmp_path / "dl", s3_endpoint_url=s3_endpoint)
