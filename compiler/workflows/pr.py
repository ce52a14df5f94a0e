"""The pull-request workflow: validate, check freshness, gate, plan, and explain the change.

It runs on every pull request into main (a path filter would leave the required check
pending forever); a `changes` job decides whether this deployment is touched, and the one
always-running `required` job is the check the ruleset on main requires. Plans run with each
environment's read-only plan role. Pull requests from forks get no OIDC token and a
read-only GITHUB_TOKEN, so the AWS and comment jobs only run for same-repository branches.
"""

from __future__ import annotations

from typing import Any

from compiler.spec import ResolvedSpec

from . import actions, bootstrap_plans, names, steps

SAME_REPO = "github.event.pull_request.head.repo.full_name == github.repository"
TOUCHED = "needs.changes.outputs.touched == 'true'"
# A label a reviewer adds to let a PR remove an environment or rename the deployment.
MIGRATION_LABEL = "servespec:migration"
# pull_request runs only on opened, synchronize and reopened unless `types` says otherwise, and
# a re-run keeps the original payload's labels: without labeled/unlabeled, adding the label to
# a refused PR changes nothing until the next push (docs.github.com, on.<event_name>.types).
PR_TYPES = ["opened", "synchronize", "reopened", "labeled", "unlabeled"]

# terraform counts a replacement as one add and one destroy; reads and no-ops are not changes.
PLAN_COUNTS_JQ = (
    "[.resource_changes[]?.change.actions] | {"
    'add: map(select(index("create"))) | length, '
    'change: map(select(. == ["update"])) | length, '
    'destroy: map(select(index("delete"))) | length}'
)

COMMENT_MARKER = "<!-- servespec:{name}:plan -->"

CHANGES = """
mapfile -t paths < <(printf '%s\\n' "$PATHS")
touched=true
if git diff --quiet "$BASE_SHA" "$HEAD_SHA" -- "${paths[@]}"; then touched=false; fi
echo "touched=$touched" >> "$GITHUB_OUTPUT"
echo "this pull request touches the deployment: $touched"
"""

POLICY = """
set +e
servespec policy "generated/$DEPLOYMENT" .github/workflows/servespec-"$DEPLOYMENT"-*.yml \
  --format sarif --output policy.sarif 2> policy.txt
code=$?
set -e
cat policy.txt
{ echo '```'; cat policy.txt; echo '```'; } >> "$GITHUB_STEP_SUMMARY"
exit "$code"
"""

REQUIRED = """
echo "needed jobs: $RESULTS"
if jq -e 'to_entries | map(select(.value.result == "failure" or .value.result == "cancelled"))
  | length > 0' <<< "$RESULTS" > /dev/null; then
  echo "::error::a required job failed or was cancelled"
  exit 1
fi
"""


def _changes_job(envs: tuple[ResolvedSpec, ...]) -> dict[str, Any]:
    spec = envs[0]
    globs = "\n".join(f":(glob){path}" for path in names.spec_paths(spec))
    accounts = bootstrap_plans.accounts(envs)
    return steps.job(
        "Does this PR touch the deployment?",
        [
            steps.checkout(full_history=True),
            steps.run(
                "Compare with the base",
                CHANGES,
                id="diff",
                env={
                    "BASE_SHA": "${{ github.event.pull_request.base.sha }}",
                    "HEAD_SHA": "${{ github.event.pull_request.head.sha }}",
                    "PATHS": globs,
                },
            ),
            *(bootstrap_plans.changed_step(s) for s in accounts),
        ],
        permissions={"contents": "read"},
        timeout=5,
        outputs={
            "touched": "${{ steps.diff.outputs.touched }}",
            **{names.bootstrap_key(s): bootstrap_plans.changed_output(s) for s in accounts},
        },
    )


def _validate_job(spec: ResolvedSpec) -> dict[str, Any]:
    return steps.job(
        "Validate the spec and check generated output",
        [
            steps.checkout(full_history=True),
            *steps.install(cache=True),
            steps.run("Validate the spec", f"servespec validate {spec.source_path}"),
            steps.run("Generated output is fresh and untouched", "servespec compile --check"),
            steps.run(
                "No environment removed or deployment renamed without a migration",
                f"servespec diff-summary {spec.source_path}"
                ' --base-ref "$BASE_SHA" --refuse-removals',
                if_=f"!contains(github.event.pull_request.labels.*.name, '{MIGRATION_LABEL}')",
                env={"BASE_SHA": "${{ github.event.pull_request.base.sha }}"},
            ),
        ],
        needs="changes",
        if_=TOUCHED,
        permissions={"contents": "read"},
        timeout=20,
    )


def _policy_job(spec: ResolvedSpec) -> dict[str, Any]:
    sarif = "policy.sarif"
    return steps.job(
        "Policy gate",
        [
            steps.checkout(),
            *steps.install(cache=True),
            # checkov lives in its own virtual environment (its pins clash with ours).
            steps.run("Install checkov", "bash scripts/install-checkov.sh"),
            steps.run("Policy gate", POLICY, env={"DEPLOYMENT": spec.metadata.name}),
            {
                "name": "Upload policy findings to code scanning",
                # Findings matter most when the gate failed, so upload them then too. Fork PRs
                # get a read-only token, and repositories without code scanning refuse the
                # upload: the text report is in the job summary either way.
                "if": f"${{{{ !cancelled() && hashFiles('{sarif}') != '' && {SAME_REPO} }}}}",
                "continue-on-error": True,
                "uses": actions.UPLOAD_SARIF.ref,
                "with": {"sarif_file": sarif, "category": f"servespec-{spec.metadata.name}"},
            },
        ],
        needs="changes",
        # Once per pull request and deployment: over this deployment's generated files.
        if_=TOUCHED,
        permissions={"actions": "read", "contents": "read", "security-events": "write"},
        timeout=20,
    )


PLAN = """
terraform show -json tfplan > plan.json
servespec plan-summary plan.json --env "$ENVIRONMENT" > "$RUNNER_TEMP/plan-summary-$ENVIRONMENT.md"
counts="$(servespec plan-summary plan.json --env "$ENVIRONMENT" --counts)"
rm -f plan.json
echo "counts=$counts" >> "$GITHUB_OUTPUT"
cat "$RUNNER_TEMP/plan-summary-$ENVIRONMENT.md" >> "$GITHUB_STEP_SUMMARY"
"""


def _plan_job(spec: ResolvedSpec) -> dict[str, Any]:
    env = spec.environment
    return steps.job(
        f"Plan {env}",
        [
            steps.checkout(),
            *steps.install(cache=True),
            steps.aws_credentials(spec, "PLAN"),
            steps.setup_terraform(),
            *steps.terraform_cache(spec),
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
            *steps.plan_summary(env, PLAN, id="counts"),
        ],
        needs=["changes", "validate"],
        if_=f"{TOUCHED} && {SAME_REPO}",
        permissions={"contents": "read", "id-token": "write"},
        timeout=30,
        concurrency={
            "group": names.concurrency_group(spec, "plan")
            + "-${{ github.event.pull_request.number }}",
            "cancel-in-progress": True,
        },
        outputs={"counts": "${{ steps.counts.outputs.counts }}"},
        defaults={"run": {"working-directory": names.terraform_dir(spec)}},
        env={"TF_PLUGIN_CACHE_DIR": steps.PLUGIN_CACHE},
    )


COMMENT = """
servespec diff-summary "$SPEC" --base-ref "$BASE_SHA" {plan_args} > comment.md
# Each environment's resource list, replacements first (absent when its plan did not run).
for summary in plan-summaries/plan-summary-*.md; do
  if [ -f "$summary" ]; then {{ echo; cat "$summary"; }} >> comment.md; fi
done
# The bootstrap (one per account; its read-only plan is above) and GitHub roots are applied by
# administrators, not by the deploy: say so.
mapfile -t roots < <(git diff --name-only "$BASE_SHA" HEAD -- \\
  "generated/{deployment}/bootstrap" "generated/{deployment}/github" \\
  | xargs -r -n 1 dirname | sort -u)
tick=$'\x60'  # a Markdown code span, written without a literal backquote
for root in "${{roots[@]}}"; do
  case "$root" in */bootstrap*) planned=" (its read-only plan is above)" ;; *) planned="" ;; esac
  printf "\\n**%s root changed**%s: an administrator plans and applies it after merge: %s\\n" \\
    "$tick${{root#generated/{deployment}/}}$tick" "$planned" \\
    "${{tick}}terraform -chdir=$root plan$tick" >> comment.md
done
printf '\\n[Workflow run](%s)\\n' "$RUN_URL" >> comment.md
marker='{marker}'
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


def _comment_job(envs: tuple[ResolvedSpec, ...], plans: list[str]) -> dict[str, Any]:
    first = envs[0]
    plan_env = {
        f"PLAN_{names.upper(s.environment)}": "${{ needs."
        + names.job_id("plan", s.environment)
        + ".outputs.counts }}"
        for s in envs
    }
    plan_args = " ".join(
        f'--plan "{s.environment}=$PLAN_{names.upper(s.environment)}"' for s in envs
    )
    script = COMMENT.format(
        plan_args=plan_args,
        marker=COMMENT_MARKER.format(name=first.metadata.name),
        deployment=first.metadata.name,
    )
    return steps.job(
        "Plan summary comment",
        [
            # Full history: the summary compares the spec with the base commit.
            steps.checkout(full_history=True),
            *steps.install(cache=True),
            {
                "name": "Collect the resource lists",
                "uses": actions.DOWNLOAD_ARTIFACT.ref,
                "with": {
                    "pattern": "plan-summary-*",
                    "path": "plan-summaries",
                    "merge-multiple": True,
                },
            },
            steps.run(
                "Write or update the sticky comment",
                script,
                env={
                    "GH_TOKEN": "${{ github.token }}",
                    "SPEC": first.source_path,
                    "PR_NUMBER": "${{ github.event.pull_request.number }}",
                    "BASE_SHA": "${{ github.event.pull_request.base.sha }}",
                    "RUN_URL": "${{ github.server_url }}/${{ github.repository }}"
                    "/actions/runs/${{ github.run_id }}",
                    **plan_env,
                },
            ),
        ],
        needs=["changes", *plans],
        # Comment even when a plan failed: the comment says so, which is what reviewers need.
        if_=f"${{{{ !cancelled() && {TOUCHED} && {SAME_REPO} }}}}",
        permissions={"actions": "read", "contents": "read", "pull-requests": "write"},
        timeout=15,
    )


def _required_job(spec: ResolvedSpec, needed: list[str]) -> dict[str, Any]:
    return steps.job(
        names.required_check_name(spec),
        [
            steps.run(
                "Every needed job passed or was skipped",
                REQUIRED,
                env={"RESULTS": "${{ toJSON(needs) }}"},
            )
        ],
        needs=needed,
        # Always reports, so the ruleset on main can require it whatever the PR touches.
        if_="${{ always() }}",
        permissions={},
        timeout=5,
    )


def build(envs: tuple[ResolvedSpec, ...]) -> dict[str, Any]:
    first = envs[0]
    name = first.metadata.name
    jobs: dict[str, Any] = {
        "changes": _changes_job(envs),
        "validate": _validate_job(first),
        "policy": _policy_job(first),
    }
    for spec in envs:
        jobs[names.job_id("plan", spec.environment)] = _plan_job(spec)
    for spec in bootstrap_plans.accounts(envs):
        jobs[names.job_id("plan", names.bootstrap_key(spec))] = bootstrap_plans.pr_job(
            spec, PLAN, SAME_REPO
        )
    jobs["comment"] = _comment_job(envs, [j for j in jobs if j.startswith("plan-")])
    jobs["required"] = _required_job(first, list(jobs))
    return {
        "name": f"servespec {name}: pull request",
        "on": {"pull_request": {"branches": ["main"], "types": PR_TYPES}},
        "permissions": {},
        "concurrency": {
            "group": f"servespec-{name}-pr-${{{{ github.event.pull_request.number }}}}",
            "cancel-in-progress": True,
        },
        "defaults": {"run": {"shell": "bash"}},
        "jobs": jobs,
    }
