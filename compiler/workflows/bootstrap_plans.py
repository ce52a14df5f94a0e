"""Read-only plans of the bootstrap roots (one per AWS account) in the PR and drift workflows.

The bootstrap is applied by an administrator, never by a workflow: it creates the roles the
workflows assume. Its state lives in the bucket it created (`bootstrap.state_key`), so the
read-only plan role of an environment in that account (ReadOnlyAccess, the state key, and
the bootstrap's lockfile) can plan it: pull requests that change it show its resource list,
and the drift workflow reports when the account no longer matches it.
"""

from __future__ import annotations

from typing import Any

from compiler.spec import ResolvedSpec

from . import names, steps

CHANGED = """
changed=true
if git diff --quiet "$BASE_SHA" "$HEAD_SHA" -- "$ROOT"; then changed=false; fi
echo "changed=$changed" >> "$GITHUB_OUTPUT"
echo "this pull request changes $ROOT: $changed"
"""


def accounts(envs: tuple[ResolvedSpec, ...]) -> list[ResolvedSpec]:
    """The first environment of each account: its plan role plans the account's bootstrap."""
    found: dict[str, ResolvedSpec] = {}
    for spec in envs:
        found.setdefault(names.bootstrap_dir(spec), spec)
    return list(found.values())


def changed_step(spec: ResolvedSpec) -> dict[str, Any]:
    """A step of the PR's `changes` job: does this PR change the account's bootstrap root?"""
    return steps.run(
        f"Does it change {names.bootstrap_dir(spec)}?",
        CHANGED,
        id=names.bootstrap_key(spec),
        env={
            "BASE_SHA": "${{ github.event.pull_request.base.sha }}",
            "HEAD_SHA": "${{ github.event.pull_request.head.sha }}",
            "ROOT": names.bootstrap_dir(spec),
        },
    )


def changed_output(spec: ResolvedSpec) -> str:
    return f"${{{{ steps.{names.bootstrap_key(spec)}.outputs.changed }}}}"


def _common(spec: ResolvedSpec, *, cache: bool) -> list[dict[str, Any]]:
    return [
        steps.checkout(),
        *(steps.install(cache=True) if cache else []),
        steps.aws_credentials(spec, "PLAN"),
        steps.setup_terraform(),
        steps.terraform_init(),
    ]


def pr_job(spec: ResolvedSpec, summary: str, if_: str) -> dict[str, Any]:
    """Plan the account's bootstrap without its lock (a plan changes nothing) and hand its
    resource list to the sticky comment like an environment's (`summary`: pr.PLAN)."""
    key = names.bootstrap_key(spec)
    return steps.job(
        f"Plan {key} (read-only; an administrator applies it)",
        [
            *_common(spec, cache=True),
            steps.run(
                "terraform plan", "terraform plan -input=false -no-color -lock=false -out=tfplan"
            ),
            *steps.plan_summary(key, summary),
        ],
        needs=["changes", "validate"],
        if_=f"needs.changes.outputs.{key} == 'true' && {if_}",
        permissions={"contents": "read", "id-token": "write"},
        timeout=30,
        concurrency={
            "group": names.bootstrap_lock(spec) + "-plan-${{ github.event.pull_request.number }}",
            "cancel-in-progress": True,
        },
        defaults={"run": {"working-directory": names.bootstrap_dir(spec)}},
    )


def drift_job(spec: ResolvedSpec, plan: str) -> dict[str, Any]:
    """The drift plan of the account's bootstrap (`plan`: drift.PLAN). It takes the
    bootstrap's S3 lockfile with no wait: while an administrator applies, busy is not drift."""
    return steps.job(
        f"Drift {names.bootstrap_key(spec)}",
        [
            *_common(spec, cache=False),
            steps.run("terraform plan -detailed-exitcode", plan, id="plan"),
        ],
        permissions={"contents": "read", "id-token": "write"},
        timeout=30,
        concurrency={"group": names.bootstrap_lock(spec), "cancel-in-progress": False},
        outputs={
            "drift": "${{ steps.plan.outputs.drift }}",
            "counts": "${{ steps.plan.outputs.counts }}",
        },
        defaults={"run": {"working-directory": names.bootstrap_dir(spec)}},
    )
