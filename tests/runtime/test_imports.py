"""Each module of the completions path imports on its own (no import cycle that only a
lucky import order hides: ``service`` loads ``structured``, which the request path uses)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "module",
    ["service", "structured", "pieces", "call", "prepare", "responses", "streaming", "completions"],
)
def test_module_imports_alone(module: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", f"import runtime.{module}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
