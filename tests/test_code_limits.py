"""The project's size rules, enforced: modules ≤ 400 lines and functions ≤ 60 in compiler/,
runtime/ and bench/ (no exemptions), and every part of compiler/ type-checked by
`mypy --strict` (pyproject's [tool.mypy])."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMPILER = ROOT / "compiler"
SIZED = (COMPILER, ROOT / "runtime", ROOT / "bench")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def _modules() -> list[Path]:
    return sorted(path for folder in SIZED for path in folder.rglob("*.py"))


def test_no_module_is_over_the_limit() -> None:
    long = {
        p.relative_to(ROOT).as_posix(): n
        for p in _modules()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}


def test_no_function_is_over_the_limit() -> None:
    long = {}
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long[f"{path.relative_to(ROOT).as_posix()}:{node.name}"] = lines
    assert long == {}


def test_the_size_rules_see_every_package() -> None:
    # A renamed or emptied folder would make the two tests above pass vacuously.
    seen = {path.relative_to(ROOT).parts[0] for path in _modules()}
    assert seen == {"compiler", "runtime", "bench"}


def test_mypy_strict_covers_all_of_compiler() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]
    assert config["strict"] is True
    checked = set(config.get("packages", [])) | set(config.get("modules", []))
    parts = {"compiler"}
    for path in COMPILER.iterdir():
        if path.is_dir() and (path / "__init__.py").is_file():
            parts.add(f"compiler.{path.name}")
        elif path.suffix == ".py" and path.name != "__init__.py":
            parts.add(f"compiler.{path.stem}")
    assert parts - checked == set()
