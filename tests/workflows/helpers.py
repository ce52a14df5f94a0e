"""Shared helpers for the workflow tests: the example specs and their emitted workflows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from compiler.artifacts import Artifact
from compiler.spec import ResolvedSpec, load_spec
from compiler.workflows import emit

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ("assistant", "clinical-notes")
FIXTURE = Path(__file__).parent / "data" / "clinical-notes.yaml"


def environments(name: str) -> tuple[ResolvedSpec, ...]:
    return load_spec(ROOT / "spec" / f"{name}.yaml", root=ROOT).environments


def fixture_environments() -> tuple[ResolvedSpec, ...]:
    """The frozen clinical-notes spec (variants, two recipients, GuardDuty on)."""
    return load_spec(FIXTURE, root=FIXTURE.parent).environments


def emitted(name: str) -> list[Artifact]:
    return emit(environments(name))


def workflows(name: str) -> dict[str, dict[str, Any]]:
    """Emitted workflows of one example, parsed: file name -> data."""
    return {Path(a.path).name: yaml.safe_load(a.content) for a in emitted(name)}


def all_jobs() -> list[tuple[str, str, dict[str, Any]]]:
    """(workflow file, job id, job) for every job of every example."""
    return [
        (file, job_id, job)
        for name in EXAMPLES
        for file, data in workflows(name).items()
        for job_id, job in data["jobs"].items()
    ]


def steps_of(job: dict[str, Any]) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = job["steps"]
    return steps


def with_value(model: Any, dotted: str, value: Any) -> Any:
    """A copy of a frozen model with one nested field replaced (no re-validation needed)."""
    head, _, rest = dotted.partition(".")
    if rest:
        value = with_value(getattr(model, head), rest, value)
    assert isinstance(model, BaseModel)
    return model.model_copy(update={head: value})
