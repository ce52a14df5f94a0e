"""Manifest integrity and atomic publication of artifact directories."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from compiler.model.artifact import dump_json, staging, verify_artifact
from tests.model.fake_artifact import make_fake_artifact


def test_fresh_artifact_verifies(tmp_path: Path) -> None:
    make_fake_artifact(tmp_path / "a", b"weights")
    assert verify_artifact(tmp_path / "a") == []


def test_manifest_lists_hash_and_size_of_every_file(tmp_path: Path) -> None:
    manifest = make_fake_artifact(tmp_path / "a", b"weights")
    assert manifest["format"] == "servespec-model/1"
    assert manifest["files"]["model.onnx"] == {
        "sha256": hashlib.sha256(b"weights").hexdigest(),
        "size": 7,
    }
    assert "manifest.json" not in manifest["files"]
    on_disk = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert on_disk == manifest


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda d: (d / "model.onnx").write_bytes(b"Weights"), "model.onnx: sha256"),
        (lambda d: (d / "model.onnx").write_bytes(b"weights!"), "model.onnx: size"),
        (lambda d: (d / "tokenizer.json").unlink(), "tokenizer.json: listed but missing"),
        (lambda d: (d / "extra.bin").write_bytes(b"x"), "extra.bin: not listed"),
        (lambda d: (d / "manifest.json").write_text("{"), "not valid JSON"),
    ],
)
def test_damage_is_reported(tmp_path: Path, damage, expected: str) -> None:  # type: ignore[no-untyped-def]
    make_fake_artifact(tmp_path / "a", b"weights")
    damage(tmp_path / "a")
    problems = verify_artifact(tmp_path / "a")
    assert any(expected in p for p in problems), problems


def test_manifest_json_is_deterministic() -> None:
    assert dump_json({"b": 1, "a": [2]}) == '{\n  "a": [\n    2\n  ],\n  "b": 1\n}\n'


def test_failed_staging_leaves_nothing_behind(tmp_path: Path) -> None:
    target = tmp_path / "artifacts" / "key"
    with pytest.raises(RuntimeError), staging(target) as temp:
        (temp / "model.onnx").write_bytes(b"half")
        raise RuntimeError("quantize failed")
    assert list((tmp_path / "artifacts").iterdir()) == []


def test_successful_staging_replaces_the_target_atomically(tmp_path: Path) -> None:
    target = tmp_path / "key"
    for content in (b"first", b"second"):
        with staging(target) as temp:
            (temp / "model.onnx").write_bytes(content)
    assert (target / "model.onnx").read_bytes() == b"second"
    assert [p.name for p in tmp_path.iterdir()] == ["key"]
