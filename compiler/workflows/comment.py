"""The sticky pull-request comment: plan counts per environment, then the spec change in words.

Pure functions of loaded specs and plan counts, so what reviewers see is unit-tested here
rather than discovered in a pull request.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from compiler.spec import LoadedSpec

from .summary import diff_specs


@dataclass(frozen=True)
class PlanCounts:
    """What `terraform plan` would do; a replacement counts as one add and one destroy."""

    add: int
    change: int
    destroy: int

    @classmethod
    def from_json(cls, text: str) -> PlanCounts | None:
        """Counts from a plan job's output; None when it is empty or not what we wrote."""
        try:
            data = json.loads(text)
            counts = cls(int(data["add"]), int(data["change"]), int(data["destroy"]))
        except (ValueError, TypeError, KeyError):
            return None
        return counts if min(counts.add, counts.change, counts.destroy) >= 0 else None

    def cells(self) -> str:
        marker = " ⚠️" if self.destroy else ""
        return f"{self.add} | {self.change} | {self.destroy}{marker}"


def _changes(before: LoadedSpec | None, after: LoadedSpec) -> dict[str, list[tuple[str, str]]]:
    """Environment -> [(path, sentence)], in the new spec's order, removed environments last."""
    old = before.layers if before else {}
    result: dict[str, list[tuple[str, str]]] = {}
    for env, layer in after.layers.items():
        previous = old[env].spec if env in old else None
        if before is None:
            result[env] = []
        else:
            result[env] = [(c.path, c.text) for c in diff_specs(previous, layer.spec)]
    for env in old:
        if env not in after.layers:
            result[env] = [("environment", f"environment {env} removed from the deployment")]
    return result


def render_json(before: LoadedSpec | None, after: LoadedSpec) -> dict[str, Any]:
    """Machine-readable changes; with no base every environment counts as new (all changed)."""
    if before is None:
        return {
            env: [{"path": "environment", "text": f"new environment {env}"}] for env in after.layers
        }
    return {
        env: [{"path": path, "text": text} for path, text in items]
        for env, items in _changes(before, after).items()
    }


def _plan_table(envs: list[str], plans: dict[str, PlanCounts | None]) -> list[str]:
    lines = ["| environment | to add | to change | to destroy |", "| --- | ---: | ---: | ---: |"]
    unfinished = []
    for env in (env for env in envs if env in plans):
        counts = plans[env]
        lines.append(f"| {env} | {counts.cells() if counts else '– | – | –'} |")
        if counts is None:
            unfinished.append(env)
    if unfinished:
        lines += ["", f"No plan for {', '.join(unfinished)}: the plan failed or did not run."]
    return lines


def _change_list(changes: dict[str, list[tuple[str, str]]]) -> list[str]:
    """Per-environment bullets; a change made the same way everywhere is listed once."""
    envs = list(changes)
    shared = [item for item in changes[envs[0]] if all(item in changes[e] for e in envs[1:])]
    lines: list[str] = []
    if len(envs) > 1 and shared:
        lines.append("- **every environment**")
        lines += [f"  - {text}" for _, text in shared]
    else:
        shared = []
    for env in envs:
        own = [item for item in changes[env] if item not in shared]
        if not own:
            lines.append(f"- **{env}**: {'nothing else' if shared else 'no change'}")
            continue
        lines.append(f"- **{env}**" + (" also" if shared else ""))
        lines += [f"  - {text}" for _, text in own]
    return lines


def _new_environments(before: LoadedSpec | None, after: LoadedSpec) -> list[str]:
    """A new environment deploys only after its AWS and GitHub setup: say what that is."""
    old = before.layers if before else {}
    name = after.spec.metadata.name
    lines: list[str] = []
    for env in (env for env in after.layers if env not in old):
        upper = f"SERVESPEC_{name.upper()}_{env.upper()}".replace("-", "_")
        lines += [
            "",
            f"**New environment `{env}`: setup before its first deploy**",
            "",
            f"1. `terraform apply` in `generated/{name}/bootstrap/<account-id>` (its plan and"
            " apply roles, permissions boundary and state bucket) with the account's"
            " administrator.",
            f"2. `terraform apply` in `generated/{name}/github` (the `{env}` environment, its"
            " reviewers and main-only branch policy).",
            f"3. Repository variables `{upper}_PLAN_ROLE_ARN` and `{upper}_APPLY_ROLE_ARN`"
            " (bootstrap outputs; set by the GitHub root when the spec names the account).",
            f"4. `servespec doctor {after.path} --env {env}` to check the rest.",
        ]
    return lines


def render_markdown(
    before: LoadedSpec | None,
    after: LoadedSpec,
    base_ref: str,
    note: str | None,
    plans: dict[str, PlanCounts | None],
    run_url: str | None,
) -> str:
    """The comment body (also what `diff-summary` prints for people)."""
    name = after.spec.metadata.name
    lines = [f"### servespec plan: `{name}` ({after.path})", ""]
    changes = _changes(before, after)
    if plans:
        lines += [*_plan_table(list(changes), plans), ""]
    lines += [f"**What changed in the spec** since `{base_ref[:12]}`", ""]
    if note:
        lines += [f"- {note}", ""]
    if before is not None:
        lines += _change_list(changes)
    lines += _new_environments(before, after)
    if run_url:
        lines += ["", f"[Workflow run]({run_url})"]
    return "\n".join(lines).rstrip("\n") + "\n"
