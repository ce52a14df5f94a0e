"""Runbook emitter: `generated/<deployment>/RUNBOOK.md`, the on-call guide to one deployment.

    from compiler.runbook import emit
    artifacts = emit(load_spec(Path("spec/assistant.yaml")).environments)

Facts (names, numbers, alarms) are computed in `facts.py` from the spec and the Terraform
views; `RUNBOOK.md.j2` only words them. jinja2 is for this free text alone.
"""

from __future__ import annotations

from .render import emit, render

__all__ = ["emit", "render"]
