"""The drift workflow: a scheduled read-only plan per environment, and an issue on drift.

The plan jobs hold AWS credentials but no write access to GitHub; the one job that may write
issues holds no AWS credentials. Drift is `terraform plan -detailed-exitcode` exiting 2.
"""

from __future__ import annotations

from typing import Any

from compiler.spec import ResolvedSpec

from . import bootstrap_plans, names, steps
from .pr import PLAN_COUNTS_JQ

_PLAN_COMMAND = steps.with_image_tag(
    "terraform plan -input=false -no-color -lock-timeout=0s -detailed-exitcode -out=tfplan"
).strip()

# The plan takes the state lock: while a deploy holds it, the stack is changing on purpose,
# and a drift report now would be false. Busy is not drift.
PLAN = f"""
set +e
{_PLAN_COMMAND} 2>&1 | tee plan.log
code=${{PIPESTATUS[0]}}
set -e
if [ "$code" -eq 1 ] && grep -q "Error acquiring the state lock" plan.log; then
  echo "::notice::the state is locked (an apply is running): no drift check this time"
  code=locked
fi
rm -f plan.log
case "$code" in
  0|locked) echo "drift=false" >> "$GITHUB_OUTPUT" ;;
  2) echo "drift=true" >> "$GITHUB_OUTPUT"
     terraform show -json tfplan > plan.json
     echo "counts=$(jq -c '{PLAN_COUNTS_JQ}' plan.json)" >> "$GITHUB_OUTPUT"
     rm -f plan.json ;;
  *) exit "$code" ;;
esac
"""

# A deploy that is queued, waiting for approval or running is about to change the stack:
# main's configuration is not yet applied, so a plan now would report the pending change.
DEPLOY_IN_FLIGHT = """
active="$(gh run list --workflow "$WORKFLOW" --limit 20 --json status \
  --jq '[.[] | select(.status != "completed")] | length')"
echo "busy=$([ "$active" -gt 0 ] && echo true || echo false)" >> "$GITHUB_OUTPUT"
echo "deploy runs not completed: $active"
"""

REPORT = """
title="servespec drift: $DEPLOYMENT/$ENVIRONMENT"
planned="$(jq -r '"\\(.add) to add, \\(.change) to change, \\(.destroy) to destroy"' <<< "$COUNTS")"
body="$(printf '%s\\n\\n%s\\n\\n%s\\n' \\
  "Terraform plan for \\`$DEPLOYMENT\\` in \\`$ENVIRONMENT\\` no longer matches the live stack." \\
  "Planned: $planned." \\
  "Run: $RUN_URL")"
existing="$(gh issue list --state open --search "in:title \\"$title\\"" \\
  --json number,title --jq ".[] | select(.title == \\"$title\\") | .number" | head -n 1)"
if [ -n "$existing" ]; then
  gh issue comment "$existing" --body "$body"
else
  gh issue create --title "$title" --body "$body"
fi
"""


def _plan_job(spec: ResolvedSpec) -> dict[str, Any]:
    return steps.job(
        f"Drift {spec.environment}",
        [
            steps.checkout(),
            steps.aws_credentials(spec, "PLAN"),
            steps.setup_terraform(),
            steps.terraform_init(),
            steps.run("Read the deployed image tag", steps.READ_DEPLOYED_TAG, id="deployed"),
            steps.run(
                "terraform plan -detailed-exitcode",
                PLAN,
                id="plan",
                env={"IMAGE_TAG": "${{ steps.deployed.outputs.image_tag }}"},
            ),
        ],
        needs="deploys",
        if_="needs.deploys.outputs.busy == 'false'",
        permissions={"contents": "read", "id-token": "write"},
        timeout=30,
        # The environment's one group, shared with the deploy's plan and apply jobs.
        concurrency={"group": names.environment_lock(spec), "cancel-in-progress": False},
        outputs={
            "drift": "${{ steps.plan.outputs.drift }}",
            "counts": "${{ steps.plan.outputs.counts }}",
        },
        defaults={"run": {"working-directory": names.terraform_dir(spec)}},
    )


def _report_job(spec: ResolvedSpec, root: str) -> dict[str, Any]:
    """`root`: the environment, or the bootstrap key of an account (`names.bootstrap_key`)."""
    plan = names.job_id("drift", root)
    return steps.job(
        f"Report drift in {root}",
        [
            steps.run(
                "Open or update the drift issue",
                REPORT,
                env={
                    "GH_TOKEN": "${{ github.token }}",
                    "GH_REPO": "${{ github.repository }}",
                    "DEPLOYMENT": spec.metadata.name,
                    "ENVIRONMENT": root,
                    "COUNTS": f"${{{{ needs.{plan}.outputs.counts }}}}",
                    "RUN_URL": "${{ github.server_url }}/${{ github.repository }}"
                    "/actions/runs/${{ github.run_id }}",
                },
            )
        ],
        needs=plan,
        if_=f"needs.{plan}.outputs.drift == 'true'",
        permissions={"issues": "write"},
        timeout=10,
    )


def _deploys_job(spec: ResolvedSpec) -> dict[str, Any]:
    return steps.job(
        "Is a deploy in flight?",
        [
            steps.run(
                "Count unfinished deploy runs",
                DEPLOY_IN_FLIGHT,
                id="runs",
                env={
                    "GH_TOKEN": "${{ github.token }}",
                    "GH_REPO": "${{ github.repository }}",
                    "WORKFLOW": names.workflow_path(spec.metadata.name, "deploy").rsplit("/")[-1],
                },
            )
        ],
        permissions={"actions": "read"},
        timeout=5,
        outputs={"busy": "${{ steps.runs.outputs.busy }}"},
    )


def build(envs: tuple[ResolvedSpec, ...]) -> dict[str, Any]:
    name = envs[0].metadata.name
    jobs: dict[str, Any] = {"deploys": _deploys_job(envs[0])}
    for spec in envs:
        jobs[names.job_id("drift", spec.environment)] = _plan_job(spec)
    # Each account's bootstrap too: an administrator applies it, so nothing else plans it.
    roots = [(spec, spec.environment) for spec in envs]
    for spec in bootstrap_plans.accounts(envs):
        key = names.bootstrap_key(spec)
        jobs[names.job_id("drift", key)] = bootstrap_plans.drift_job(spec, PLAN)
        roots.append((spec, key))
    for spec, root in roots:
        jobs[names.job_id("report", root)] = _report_job(spec, root)
    return {
        "name": f"servespec {name}: drift",
        "on": {"schedule": [{"cron": names.drift_cron(name)}], "workflow_dispatch": {}},
        "permissions": {},
        "defaults": {"run": {"shell": "bash"}},
        "jobs": jobs,
    }
