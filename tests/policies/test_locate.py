"""Where the gate looks for checkov, in order, and what it says when there is none."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from compiler.policy.locate import CheckovMissing, find_checkov


def executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_env_var_wins(tmp_path: Path) -> None:
    explicit = executable(tmp_path / "bin" / "my-checkov")
    executable(tmp_path / ".venv-checkov" / "bin" / "checkov")
    assert find_checkov(tmp_path, {"SERVESPEC_CHECKOV": str(explicit)}) == explicit


def test_repo_venv_before_path(tmp_path: Path) -> None:
    local = executable(tmp_path / ".venv-checkov" / "bin" / "checkov")
    on_path = executable(tmp_path / "path" / "checkov")
    assert find_checkov(tmp_path, {"PATH": str(on_path.parent)}) == local


def test_path_last(tmp_path: Path) -> None:
    on_path = executable(tmp_path / "path" / "checkov")
    assert find_checkov(tmp_path, {"PATH": str(on_path.parent)}) == on_path


def test_none_says_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(CheckovMissing, match=re.escape("scripts/install-checkov.sh")):
        find_checkov(tmp_path, {"PATH": str(tmp_path / "empty")})


def test_bad_env_var_is_an_error_not_a_fallback(tmp_path: Path) -> None:
    executable(tmp_path / ".venv-checkov" / "bin" / "checkov")
    with pytest.raises(CheckovMissing, match="SERVESPEC_CHECKOV"):
        find_checkov(tmp_path, {"SERVESPEC_CHECKOV": str(tmp_path / "missing")})
