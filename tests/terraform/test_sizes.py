"""compiler/terraform stays readable: modules of at most 400 lines, functions of at most 60.

The exceptions below are known and may only shrink (a test fails when one is fixed and
still listed, so the list tells the truth)."""

from __future__ import annotations

import ast

from .support import ROOT

PACKAGE = ROOT / "compiler" / "terraform"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
# bootstrap.py is being reworked by the pipeline issue (ops); it is split there.
KNOWN_MODULES = {"compiler/terraform/bootstrap.py"}
KNOWN_FUNCTIONS = {
    "compiler/terraform/bootstrap.py:_state",
}


def _modules() -> dict[str, int]:
    return {
        str(p.relative_to(ROOT)): len(p.read_text(encoding="utf-8").splitlines())
        for p in sorted(PACKAGE.rglob("*.py"))
    }


def _functions() -> dict[str, int]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                found[f"{path.relative_to(ROOT)}:{node.name}"] = length
    return found


def test_modules_fit_400_lines() -> None:
    long = {path for path, lines in _modules().items() if lines > MAX_MODULE_LINES}
    assert sorted(long - KNOWN_MODULES) == []
    assert sorted(KNOWN_MODULES - long) == [], "fixed: remove it from KNOWN_MODULES"


def test_functions_fit_60_lines() -> None:
    long = {name for name, lines in _functions().items() if lines > MAX_FUNCTION_LINES}
    assert sorted(long - KNOWN_FUNCTIONS) == []
    assert sorted(KNOWN_FUNCTIONS - long) == [], "fixed: remove it from KNOWN_FUNCTIONS"
