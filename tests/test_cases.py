"""Every golden case in tests/cases: compiled output, validation errors and gate findings.

Regenerate after an intended change: `.venv/bin/pytest tests/test_cases.py --regen-golden`
(see tests/golden_cases.py for what each case keeps). A mismatch prints a unified diff.
Every case also checks invariants: compiling twice gives identical bytes, every Terraform
root passes the provider schema and the reference check.
"""

from __future__ import annotations

import difflib
import shutil
from pathlib import Path

import pytest

from compiler.policy.locate import CheckovMissing, find_checkov
from compiler.terraform.schema_check import check_root

from .gate_scan import failed_by_tree
from .golden_cases import (
    NAMES,
    ROOT,
    account_wide_names,
    case,
    compiled,
    deployment_path,
    digest_lines,
)
from .terraform.support import schema

REGEN = "(regenerate with `.venv/bin/pytest tests/test_cases.py --regen-golden` if intended)"


def _compare(path: Path, actual: str, regen: bool) -> None:
    if regen:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        return
    expected = path.read_text(encoding="utf-8") if path.is_file() else ""
    if expected != actual:
        diff = difflib.unified_diff(
            expected.splitlines(keepends=True),
            actual.splitlines(keepends=True),
            fromfile=str(path.relative_to(ROOT)),
            tofile="compiled",
        )
        pytest.fail("".join(diff) + REGEN)


def _expected_files(name: str) -> dict[Path, str]:
    """Everything `expected/` must hold for one case, gate findings aside."""
    result = compiled(name)
    folder = case(name).expected
    if result.error is not None:
        return {folder / "error.txt": result.error}
    by_path = {deployment_path(a): a.content for a in result.artifacts}
    files = {folder / "files.txt": digest_lines(result.artifacts)}
    for shown in case(name).show:
        files[folder / shown] = by_path[shown]
    if len(case(name).specs) > 1:
        files[folder / "collisions.txt"] = _collisions(name)
    return files


def _collisions(name: str) -> str:
    found = account_wide_names(compiled(name).artifacts)
    lines = [
        f"{kind} {key}: {', '.join(roots)}\n"
        for (kind, key), roots in sorted(found.items())
        if len(roots) > 1
    ]
    return "".join(lines) or "none\n"


@pytest.mark.parametrize("name", NAMES)
def test_case_output(name: str, regen_golden: bool) -> None:
    expected = _expected_files(name)
    folder = case(name).expected
    if regen_golden and folder.is_dir():
        gate = folder / "gate.txt"
        kept = gate.read_text(encoding="utf-8") if gate.is_file() else None
        shutil.rmtree(folder)
        if kept is not None and compiled(name).error is None:
            _compare(gate, kept, True)
    for path, text in expected.items():
        _compare(path, text, regen_golden)
    listed = {p for p in folder.rglob("*") if p.is_file() and p.name != "gate.txt"}
    assert listed == set(expected), "expected/ holds files the case no longer produces"


@pytest.mark.parametrize("name", NAMES)
def test_case_compiles_the_same_twice_and_passes_the_schema(name: str, tmp_path: Path) -> None:
    first = compiled(name)
    compiled.cache_clear()
    assert compiled(name) == first
    for artifact in first.artifacts:
        path = tmp_path / artifact.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(artifact.content, encoding="utf-8")
    roots = sorted({p.parent for p in tmp_path.rglob("*.tf")})
    assert roots or first.error is not None
    # The GitHub root (integrations/github provider) is not in the vendored AWS schema.
    aws_roots = [root for root in roots if root.name != "github"]
    problems = [str(p) for root in aws_roots for p in check_root(root, schema())]
    assert problems == []


@pytest.fixture(scope="module")
def gate(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[tuple[str, str, str]]]:
    try:
        checkov = find_checkov(ROOT)
    except CheckovMissing as exc:
        pytest.fail(str(exc))
    trees = {n: compiled(n).artifacts for n in NAMES if compiled(n).error is None}
    return failed_by_tree(checkov, trees, tmp_path_factory.mktemp("cases"))


@pytest.mark.parametrize("name", NAMES)
def test_case_gate_findings(
    name: str, gate: dict[str, set[tuple[str, str, str]]], regen_golden: bool
) -> None:
    if compiled(name).error is not None:  # refused: nothing to scan, no gate.txt to keep
        assert name not in gate and not (case(name).expected / "gate.txt").exists()
        return
    lines = [f"{check} {resource} {file}\n" for check, resource, file in sorted(gate[name])]
    _compare(case(name).expected / "gate.txt", "".join(lines) or "passed\n", regen_golden)
