"""The image emitter: paths, determinism, Dockerfile invariants, hadolint and checkov."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from compiler.artifacts import Artifact
from compiler.image import emit_image
from compiler.image.emit import BASE_IMAGE
from compiler.image.lockfile import LOCK, ROOTS, parse
from compiler.spec import load_spec

ROOT = Path(__file__).resolve().parents[2]
SPECS = sorted((ROOT / "spec").glob("*.yaml"))


def _emit(spec_path: Path) -> dict[str, str]:
    artifacts = emit_image(load_spec(spec_path).environments)
    return {a.path: a.content for a in artifacts}


@pytest.fixture(params=SPECS, ids=lambda p: p.stem)
def emitted(request: pytest.FixtureRequest) -> tuple[str, dict[str, str]]:
    path: Path = request.param
    return load_spec(path).spec.metadata.name, _emit(path)


def _final_stage(dockerfile: str) -> str:
    return dockerfile[dockerfile.rindex("\nFROM ") :]


def test_files_land_in_the_deployment_image_dir(emitted: tuple[str, dict[str, str]]) -> None:
    name, files = emitted
    base = f"generated/{name}/image"
    assert sorted(files) == [
        f"{base}/Dockerfile",
        f"{base}/Dockerfile.dockerignore",
        f"{base}/requirements.lock",
    ]
    assert f"COPY {base}/requirements.lock" in files[f"{base}/Dockerfile"]
    assert f"!{base}/requirements.lock" in files[f"{base}/Dockerfile.dockerignore"]


def test_output_is_deterministic() -> None:
    for spec in SPECS:
        assert emit_image(load_spec(spec).environments) == emit_image(load_spec(spec).environments)
    assert all(isinstance(a, Artifact) for a in emit_image(load_spec(SPECS[0]).environments))


def test_dockerfile_invariants(emitted: tuple[str, dict[str, str]]) -> None:
    name, files = emitted
    dockerfile = files[f"generated/{name}/image/Dockerfile"]
    froms = re.findall(r"^FROM (\S+)", dockerfile, flags=re.MULTILINE)
    assert froms == [BASE_IMAGE, BASE_IMAGE]  # multi-stage, both pinned by digest
    assert re.fullmatch(r"python:3\.11-slim@sha256:[0-9a-f]{64}", BASE_IMAGE)
    final = _final_stage(dockerfile)
    assert re.search(r"^USER 10001:10001$", final, flags=re.MULTILINE)
    assert final.index("USER ") < final.index("ENTRYPOINT")
    assert "/readyz" in final.split("HEALTHCHECK", 1)[1]
    for tool in ("gcc", "g++", "build-essential", "apt-get", "make "):
        assert tool not in final
    assert "--require-hashes" in dockerfile and "--only-binary=:all:" in dockerfile
    assert 'ENTRYPOINT ["python", "-m", "runtime"]' in final


def test_lock_is_the_committed_one_and_matches_the_venv(
    emitted: tuple[str, dict[str, str]],
) -> None:
    name, files = emitted
    lock = files[f"generated/{name}/image/requirements.lock"]
    assert lock == LOCK.read_text()
    pins = parse(lock)
    for root in ROOTS:
        assert pins[root] == metadata.version(root), root
    assert not {"torch", "transformers", "optimum", "optimum-onnx", "huggingface-hub"} & set(pins)
    entries = re.split(r"\n(?=[a-z])", lock.split("\n", 3)[3].strip())
    assert all("--hash=sha256:" in entry for entry in entries)


def _write(files: dict[str, str], root: Path) -> Path:
    for path, content in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
    return root / next(p for p in files if p.endswith("/Dockerfile"))


def test_hadolint_is_clean(emitted: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
    dockerfile = _write(emitted[1], tmp_path)
    result = subprocess.run(
        [hadolint, "--no-color", str(dockerfile)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"


@pytest.mark.skipif(not CHECKOV.exists(), reason="checkov lives in .venv-checkov")
def test_checkov_dockerfile_checks_pass(
    emitted: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    dockerfile = _write(emitted[1], tmp_path)
    result = subprocess.run(
        [str(CHECKOV), "-f", str(dockerfile), "--framework", "dockerfile", "-o", "json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},
        timeout=300,
    )
    summary = json.loads(result.stdout)["summary"]
    assert summary["failed"] == 0 and summary["parsing_errors"] == 0
    assert summary["passed"] >= 10  # it really scanned the Dockerfile
