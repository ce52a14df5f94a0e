"""Import rules of the Terraform emitter: one way, from the plan to the views.

The plan (compiler/terraform/plan.py) decides; builders (shared block builders) build;
views (one per file of a root, `stack.FILES`) render. A view never imports another view,
a builder never imports a view, nothing imports inside a function (how the old circle
compute -> secrets -> dr_plan -> load_balancer -> dns hid), and the plan imports nothing
of the emitter. Every view renders the one plan the emitter makes: its only parameter.
"""

from __future__ import annotations

import ast
import inspect
import typing
from pathlib import Path

from compiler.terraform.plan import Plan
from compiler.terraform.stack import (
    FILES,
    certificate,
    compute,
    load_balancer,
    observability,
    region_network,
    scaling,
    waf,
)

from .support import ROOT

PACKAGE = ROOT / "compiler" / "terraform"
STACK = PACKAGE / "stack"
VIEWS = {view.__module__.rsplit(".", 1)[1] for _, view in FILES}
BUILDERS = {p.stem for p in STACK.glob("*.py")} - VIEWS - {"__init__"}


def _imports(path: Path) -> tuple[set[str], list[int]]:
    """Stack modules a file imports, and the lines of imports inside functions."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    nested: list[int] = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            nested += [
                n.lineno for n in ast.walk(node) if isinstance(n, (ast.Import, ast.ImportFrom))
            ]
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level == 1 and module == "":
                found |= {alias.name for alias in node.names}
            elif node.level == 1:
                found.add(module.split(".")[0])
            elif module.startswith("compiler.terraform.stack."):
                found.add(module.split(".")[3])
            elif module == "compiler.terraform.stack":
                found |= {alias.name for alias in node.names}
    return found, nested


def test_the_layers_are_what_the_test_assumes() -> None:
    assert {"compute", "load_balancer", "dns", "secrets", "waf", "dr"} <= VIEWS
    assert {"common", "buckets", "region", "container", "dr_plan"} <= BUILDERS


def test_views_import_no_other_view() -> None:
    edges = {
        f"{path.stem} -> {target}"
        for path in STACK.glob("*.py")
        if path.stem in VIEWS
        for target in _imports(path)[0] & VIEWS
    }
    assert sorted(edges) == []


def test_builders_import_no_view() -> None:
    edges = {
        f"{path.stem} -> {target}"
        for path in STACK.glob("*.py")
        if path.stem in BUILDERS
        for target in _imports(path)[0] & VIEWS
    }
    assert sorted(edges) == []


def test_no_import_inside_a_function() -> None:
    found = {
        f"{path.relative_to(ROOT)}:{line}"
        for path in PACKAGE.rglob("*.py")
        for line in _imports(path)[1]
    }
    assert sorted(found) == []


def test_the_plan_imports_nothing_of_the_emitter() -> None:
    tree = ast.parse((PACKAGE / "plan.py").read_text(encoding="utf-8"))
    modules = [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    assert [m for m in modules if m.startswith("compiler.terraform") or m == ""] == []


def test_every_view_takes_the_plan_and_nothing_else() -> None:
    for filename, view in FILES:
        parameters = list(inspect.signature(view).parameters)
        hints = typing.get_type_hints(view)
        assert len(parameters) == 1, filename
        assert hints[parameters[0]] is Plan, filename


def test_region_builders_take_the_plan_first() -> None:
    """Builders that render one region for a view get the view's plan, not the spec."""
    builders = [
        load_balancer.region_blocks,
        certificate.region_blocks,
        waf.region_blocks,
        compute.region_blocks,
        observability.region_blocks,
        region_network.blocks,
        scaling.service_blocks,
    ]
    for builder in builders:
        first = next(iter(inspect.signature(builder).parameters))
        assert typing.get_type_hints(builder)[first] is Plan, builder.__module__
