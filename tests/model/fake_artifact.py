"""A small but well-formed artifact directory for tests that need no real model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from compiler.model.artifact import REQUIRED_FILES, write_manifest


def make_fake_artifact(
    directory: Path, model_bytes: bytes, version: str = "v1", name: str = "smollm2-135m-instruct"
) -> dict[str, Any]:
    """Every required file, with model.onnx holding `model_bytes` (size drives multipart)."""
    directory.mkdir(parents=True, exist_ok=True)
    for file in REQUIRED_FILES:
        (directory / file).write_text(f"{file} of {version}\n", encoding="utf-8")
    (directory / "model.onnx").write_bytes(model_bytes)
    return write_manifest(directory, {"model": {"name": name, "version": version}})
