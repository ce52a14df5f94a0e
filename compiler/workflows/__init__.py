"""GitHub Actions workflows of one deployment: pull request, deploy and drift.

`emit` builds each workflow as data and serializes it once (`render.dump_workflow`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from compiler.artifacts import Artifact
from compiler.provenance import provenance
from compiler.spec import ResolvedSpec

from . import apply, drift, names, pr
from .render import dump_workflow

Builder = Callable[[tuple[ResolvedSpec, ...]], dict[str, Any]]

# Output order is fixed here, not by dict or filesystem order.
WORKFLOWS: tuple[tuple[str, Builder], ...] = (
    ("pr", pr.build),
    ("deploy", apply.build),  # plan jobs in deploy.py, apply jobs in apply.py
    ("drift", drift.build),
)


def _header(envs: tuple[ResolvedSpec, ...], kind: str, build: Builder) -> str:
    first = envs[0]
    roles = ("PLAN", "APPLY") if kind == "deploy" else ("PLAN",)
    lines = [
        provenance(build.__module__, first.source_path),
        "Change the spec and run `servespec compile`.",
        "AWS role ARNs come from repository variables (outputs of the bootstrap stack):",
        *(f"  {names.role_variable(spec, role)}" for spec in envs for role in roles),
        f"Environments, reviewers and the ruleset on main: generated/{first.metadata.name}/github.",
    ]
    reviewed = [s.environment for s in envs if s.deployment.approval == "required"]
    if kind == "deploy" and reviewed:
        lines.append(
            "GitHub environments that require reviewers (the apply refuses without them): "
            + ", ".join(reviewed)
            + "."
        )
    return "\n".join(lines)


def emit(envs: tuple[ResolvedSpec, ...]) -> list[Artifact]:
    """The three workflows of one deployment (`envs`: its environments in spec order)."""
    if not envs:
        raise ValueError("a deployment has at least one environment")
    name = envs[0].metadata.name
    return [
        Artifact(
            names.workflow_path(name, kind), dump_workflow(build(envs), _header(envs, kind, build))
        )
        for kind, build in WORKFLOWS
    ]
