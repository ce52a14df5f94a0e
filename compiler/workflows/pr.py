"""The pull-request workflow: validate, check freshness, gate, plan, and explain the change.

Plans run with each environment's read-only plan role. Pull requests from forks get no OIDC
token and a read-only GITHUB_TOKEN, so the AWS and comment jobs only run for same-repository
branches; the checks that need no credentials run for everyone.
"""

from __future__ import annotations

from typing import Any

from compiler.spec import ResolvedSpec

from . import actions, names, steps

SAME_REPO = "github.event.pull_request.head.repo.full_name == github.repository"

# terraform counts a replacement as one add and one destroy; reads and no-ops are not changes.
PLAN_COUNTS_JQ = (
    "[.resource_changes[]?.change.actions] | {"
    'add: map(select(index("create"))) | length, '
    'change: map(select(. == ["update"])) | length, '
    'destroy: map(select(index("delete"))) | length}'
)

COMMENT_MARKER = "<!-- servespec:{name}:plan -->"


def _validate_job(spec: ResolvedSpec) -> dict[str, Any]:
    return steps.job(
        "Validate the spec and check generated output",
        [
            steps.checkout(),
            *steps.install(),
            steps.run("Validate the spec", f"servespec validate {spec.source_path}"),
            steps.run("Generated output is fresh and untouched", "servespec compile --check"),
        ],
        permissions={"contents": "read"},
        timeout=20,
    )


def _policy_job(spec: ResolvedSpec) -> dict[str, Any]:
    sarif = "policy.sarif"
    return steps.job(
        "Policy gate",
        [
            steps.checkout(),
            *steps.install(),
            # checkov lives in its own virtual environment (its pins clash with ours).
            steps.run("Install checkov", "bash scripts/install-checkov.sh"),
            steps.run("Policy gate", f"servespec policy --format sarif --output {sarif}"),
            {
                "name": "Upload policy findings to code scanning",
                # Findings matter most when the gate failed, so upload them then too. Fork PRs
                # get a read-only token: their findings stay in the job log.
                "if": f"${{{{ !cancelled() && hashFiles('{sarif}') != '' && {SAME_REPO} }}}}",
                "uses": actions.UPLOAD_SARIF.ref,
                "with": {"sarif_file": sarif, "category": f"servespec-{spec.metadata.name}"},
            },
        ],
        permissions={"actions": "read", "contents": "read", "security-events": "write"},
        timeout=20,
    )


def _plan_job(spec: ResolvedSpec) -> dict[str, Any]:
    env = spec.environment
    return steps.job(
        f"Plan {env}",
        [
            steps.checkout(),
            steps.aws_credentials(spec, "PLAN"),
            steps.setup_terraform(),
            steps.run("terraform fmt", "terraform fmt -check -diff -no-color"),
            steps.terraform_init(),
            steps.run("terraform validate", "terraform validate -no-color"),
            steps.run("Read the deployed image tag", steps.READ_DEPLOYED_TAG, id="deployed"),
            steps.run(
                "terraform plan",
                # A plan changes nothing, so it need not queue behind an apply's state lock.
                steps.with_image_tag(
                    "terraform plan -input=false -no-color -lock=false -out=tfplan"
                ),
                env={"IMAGE_TAG": "${{ steps.deployed.outputs.image_tag }}"},
            ),
            steps.run(
                "Count planned changes",
                f"""
terraform show -json tfplan > plan.json
counts="$(jq -c '{PLAN_COUNTS_JQ}' plan.json)"
rm -f plan.json
echo "counts=$counts" >> "$GITHUB_OUTPUT"
echo "**{env}**: $counts" >> "$GITHUB_STEP_SUMMARY"
""",
                id="counts",
            ),
        ],
        needs="validate",
        if_=SAME_REPO,
        permissions={"contents": "read", "id-token": "write"},
        timeout=30,
        concurrency={
            "group": names.concurrency_group(spec, "plan")
            + "-${{ github.event.pull_request.number }}",
            "cancel-in-progress": True,
        },
        outputs={"counts": "${{ steps.counts.outputs.counts }}"},
        defaults={"run": {"working-directory": names.terraform_dir(spec)}},
    )


def _comment_job(envs: tuple[ResolvedSpec, ...]) -> dict[str, Any]:
    first = envs[0]
    name = first.metadata.name
    plan_env = {
        f"PLAN_{names.upper(s.environment)}": "${{ needs."
        + names.job_id("plan", s.environment)
        + ".outputs.counts }}"
        for s in envs
    }
    plan_args = " ".join(
        f'--plan "{s.environment}=$PLAN_{names.upper(s.environment)}"' for s in envs
    )
    script = f"""
servespec diff-summary {first.source_path} --base-ref "$BASE_SHA" {plan_args} \\
  --run-url "$RUN_URL" > comment.md
marker='{COMMENT_MARKER.format(name=name)}'
body="$(printf '%s\\n\\n' "$marker"; cat comment.md)"
existing="$(gh api --paginate "repos/$GITHUB_REPOSITORY/issues/$PR_NUMBER/comments" \\
  --jq ".[] | select(.body | startswith(\\"$marker\\")) | .id" | head -n 1)"
if [ -n "$existing" ]; then
  gh api --method PATCH "repos/$GITHUB_REPOSITORY/issues/comments/$existing" \\
    -f body="$body" > /dev/null
else
  gh api --method POST "repos/$GITHUB_REPOSITORY/issues/$PR_NUMBER/comments" \\
    -f body="$body" > /dev/null
fi
cat comment.md >> "$GITHUB_STEP_SUMMARY"
"""
    return steps.job(
        "Plan summary comment",
        [
            # Full history: the summary compares the spec with the base commit.
            steps.checkout(full_history=True),
            *steps.install(),
            steps.run(
                "Write or update the sticky comment",
                script,
                env={
                    "GH_TOKEN": "${{ github.token }}",
                    "PR_NUMBER": "${{ github.event.pull_request.number }}",
                    "BASE_SHA": "${{ github.event.pull_request.base.sha }}",
                    "RUN_URL": "${{ github.server_url }}/${{ github.repository }}"
                    "/actions/runs/${{ github.run_id }}",
                    **plan_env,
                },
            ),
        ],
        needs=[names.job_id("plan", s.environment) for s in envs],
        # Comment even when a plan failed: the comment says so, which is what reviewers need.
        if_=f"${{{{ !cancelled() && {SAME_REPO} }}}}",
        permissions={"contents": "read", "pull-requests": "write"},
        timeout=15,
    )


def build(envs: tuple[ResolvedSpec, ...]) -> dict[str, Any]:
    first = envs[0]
    name = first.metadata.name
    jobs: dict[str, Any] = {"validate": _validate_job(first), "policy": _policy_job(first)}
    for spec in envs:
        jobs[names.job_id("plan", spec.environment)] = _plan_job(spec)
    jobs["comment"] = _comment_job(envs)
    return {
        "name": f"servespec {name}: pull request",
        "on": {"pull_request": {"branches": ["main"], "paths": names.spec_paths(first)}},
        "permissions": {},
        "concurrency": {
            "group": f"servespec-{name}-pr-${{{{ github.event.pull_request.number }}}}",
            "cancel-in-progress": True,
        },
        "defaults": {"run": {"shell": "bash"}},
        "jobs": jobs,
    }
