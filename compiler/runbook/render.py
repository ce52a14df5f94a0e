"""Render RUNBOOK.md from the facts of every environment of one deployment."""

from __future__ import annotations

from importlib.resources import files

import jinja2

from compiler.artifacts import Artifact
from compiler.provenance import provenance
from compiler.spec import ResolvedSpec

from .facts import facts

TEMPLATE = "RUNBOOK.md.j2"


def _template() -> jinja2.Template:
    source = files(__package__).joinpath(TEMPLATE).read_text(encoding="utf-8")
    env = jinja2.Environment(
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,  # Markdown, not HTML
    )
    return env.from_string(source)


def render(envs: tuple[ResolvedSpec, ...]) -> str:
    """The runbook text for all environments of one deployment (spec order)."""
    first = envs[0]
    text = _template().render(
        deployment=first.metadata.name,
        owner=first.metadata.owner,
        source_path=first.source_path,
        provenance=provenance(__name__, first.source_path),
        environments=[facts(spec) for spec in envs],
    )
    # One blank line at most between blocks, one newline at the end: stable diffs.
    lines = text.rstrip("\n").split("\n")
    kept = [line for i, line in enumerate(lines) if line or i == 0 or lines[i - 1]]
    return "\n".join(line.rstrip() for line in kept) + "\n"


def emit(envs: tuple[ResolvedSpec, ...]) -> list[Artifact]:
    if not envs:
        return []
    return [Artifact(f"generated/{envs[0].metadata.name}/RUNBOOK.md", render(envs))]
