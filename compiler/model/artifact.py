"""The artifact directory: manifest, file hashes, verification, atomic publication.

Format `servespec-model/1` is the contract with `runtime/`; change it only with a new format.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from compiler.model.hashing import sha256_file

FORMAT = "servespec-model/1"
MANIFEST = "manifest.json"
REQUIRED_FILES = (
    "model.onnx",
    "config.json",
    "tokenizer.json",
    "chat_template.jinja",
    "generation_config.json",
)


def dump_json(value: Any) -> str:
    """Deterministic JSON: the same inputs give the same bytes on any machine."""
    return json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def file_records(directory: Path) -> dict[str, dict[str, Any]]:
    """sha256 and size of every file except the manifest itself."""
    return {
        path.name: {"sha256": sha256_file(path), "size": path.stat().st_size}
        for path in sorted(directory.iterdir())
        if path.is_file() and path.name != MANIFEST
    }


def write_manifest(directory: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """Add the file table and write manifest.json; returns the full manifest."""
    full = {**manifest, "format": FORMAT, "files": file_records(directory)}
    (directory / MANIFEST).write_text(dump_json(full), encoding="utf-8")
    return full


def read_manifest(directory: Path) -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    return manifest


def verify_artifact(directory: Path) -> list[str]:
    """Every problem found, empty when the artifact is intact and complete."""
    if not (directory / MANIFEST).is_file():
        return [f"{directory}: no {MANIFEST}"]
    try:
        manifest = read_manifest(directory)
    except json.JSONDecodeError as exc:
        return [f"{MANIFEST}: not valid JSON ({exc})"]
    problems = [] if manifest.get("format") == FORMAT else [f"format is not {FORMAT}"]
    files = manifest.get("files", {})
    problems += [f"{name}: required file missing" for name in REQUIRED_FILES if name not in files]
    for name, record in sorted(files.items()):
        problems += _check_file(directory / name, record)
    extra = {p.name for p in directory.iterdir()} - set(files) - {MANIFEST}
    problems += [f"{name}: not listed in the manifest" for name in sorted(extra)]
    return problems


def _check_file(path: Path, record: dict[str, Any]) -> list[str]:
    if not path.is_file():
        return [f"{path.name}: listed but missing"]
    if path.stat().st_size != record.get("size"):
        return [f"{path.name}: size {path.stat().st_size} != manifest {record.get('size')}"]
    if sha256_file(path) != record.get("sha256"):
        return [f"{path.name}: sha256 does not match the manifest"]
    return []


@contextmanager
def staging(target: Path) -> Iterator[Path]:
    """Yield a temp dir beside target; rename it into place only if the block succeeds.

    A failed step therefore leaves nothing behind, and readers never see half an artifact.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        yield temp
        temp.chmod(0o755)  # mkdtemp makes it private; artifacts are shared read-only data
        if target.exists():
            shutil.rmtree(target)
        temp.rename(target)
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def copy_artifact(source: Path, target: Path) -> None:
    """Publish a cached artifact at a user-chosen path, atomically."""
    with staging(target) as temp:
        for path in source.iterdir():
            shutil.copy2(path, temp / path.name)
