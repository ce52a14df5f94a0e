"""`servespec plan-summary PLAN_JSON`: a saved plan as the resource list reviewers approve.

Reads `terraform show -json tfplan` and lists every resource the plan changes, the most
dangerous first: replacements (destroy and re-create: downtime, data loss), then deletions,
then updates, then creations. The PR comment and the deploy run's summary show this list,
so what is approved is what the saved plan applies. Also prints the counts the comment's
table uses (`--counts`).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

EXIT_INVALID = 2
# Order reviewers read in, and the words they read.
KINDS: tuple[tuple[str, str], ...] = (
    ("replace", "🔁 replace"),
    ("delete", "🗑️ destroy"),
    ("update", "✏️ update"),
    ("create", "➕ create"),
)
MAX_ROWS = 60  # a comment stays readable; the full plan is in the run


@dataclass(frozen=True)
class ResourceChange:
    kind: str  # replace | delete | update | create
    address: str


def kind_of(actions: list[str]) -> str | None:
    """terraform's action list -> one kind; reads and no-ops are not changes."""
    if "delete" in actions and "create" in actions:
        return "replace"
    for kind in ("delete", "update", "create"):
        if actions == [kind]:
            return kind
    return None


def changes(plan: dict[str, Any]) -> list[ResourceChange]:
    """Every changed resource, replacements first, then by address."""
    found = []
    for item in plan.get("resource_changes") or []:
        kind = kind_of(list(item.get("change", {}).get("actions", [])))
        if kind is not None:
            found.append(ResourceChange(kind, str(item["address"])))
    order = {kind: index for index, (kind, _) in enumerate(KINDS)}
    return sorted(found, key=lambda c: (order[c.kind], c.address))


def counts(found: list[ResourceChange]) -> dict[str, int]:
    """terraform's own arithmetic: a replacement is one add and one destroy."""
    kinds = [c.kind for c in found]
    return {
        "add": kinds.count("create") + kinds.count("replace"),
        "change": kinds.count("update"),
        "destroy": kinds.count("delete") + kinds.count("replace"),
    }


def markdown(env: str, found: list[ResourceChange]) -> str:
    if not found:
        return f"**{env}**: no changes.\n"
    words = dict(KINDS)
    lines = [f"<details><summary><b>{env}</b>: {len(found)} resource(s) change</summary>", ""]
    lines += [f"- {words[c.kind]} `{c.address}`" for c in found[:MAX_ROWS]]
    if len(found) > MAX_ROWS:
        lines.append(f"- … and {len(found) - MAX_ROWS} more (see the workflow run)")
    replaced = [c for c in found if c.kind in ("replace", "delete")]
    lines += ["", "</details>", ""]
    if replaced:
        lines.insert(0, f"⚠️ **{env}** destroys or replaces {len(replaced)} resource(s).\n")
    return "\n".join(lines)


@click.command("plan-summary")
@click.argument("plan_json", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--env", "env", required=True, help="Environment name for the heading.")
@click.option("--counts", "as_counts", is_flag=True, help="Print the counts as JSON instead.")
def plan_summary(plan_json: Path, env: str, as_counts: bool) -> None:
    """List the resources a saved plan changes, replacements first."""
    try:
        plan = json.loads(plan_json.read_text(encoding="utf-8"))
        found = changes(plan)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        click.echo(
            f"servespec plan-summary: {plan_json}: not a terraform JSON plan ({exc})", err=True
        )
        sys.exit(EXIT_INVALID)
    click.echo(
        json.dumps(counts(found), sort_keys=True) if as_counts else markdown(env, found),
        nl=as_counts,
    )
