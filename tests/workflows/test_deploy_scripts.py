"""The new deploy, drift and PR steps, run with bash and fakes for terraform, gh and git.

The steps that ask AWS something run the real `servespec release` against moto_server in
test_release.py; here the decisions around them: which plan is made, that the saved plan is
applied and a stale one explained, that prod refuses an environment without reviewers, that
drift stays quiet while a deploy holds the stack, and that the required check reports.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from compiler.workflows import deploy_scripts

from .helpers import EXAMPLES, workflows
from .test_scripts import DEPLOY, LOG_GH, Runner, fake, step


@pytest.fixture
def runner(tmp_path: Path) -> Runner:
    return Runner(tmp_path)


PLAN = ("servespec-assistant-deploy.yml", "plan-prod", "terraform plan (saved)")
TERRAFORM_LOG = 'echo "terraform $*" >> "$CALLS"\n'


def plan_fakes(runner: Runner) -> None:
    fake(
        runner.bin,
        "terraform",
        TERRAFORM_LOG + '[ "$1" = plan ] && touch tfplan; [ "$1" = show ] && echo "{}"\n:\n',
    )
    fake(runner.bin, "servespec", 'echo "servespec $*" >> "$CALLS"\necho "- change"\n')
    (runner.tmp / ".terraform.lock.hcl").write_text("# lock\n")


@pytest.mark.parametrize("stage", ["full", "foundation"])
def test_the_plan_is_saved_with_the_release_in_it(runner: Runner, stage: str) -> None:
    plan_fakes(runner)
    env = {"STAGE": stage, "ENVIRONMENT": "prod", "IMAGE_TAG": "0a1b", "OUT": "out"}
    result = runner.run(step(*PLAN)["run"], env)
    assert result.returncode == 0, result.stderr
    plan = runner.calls()[0]
    assert plan.startswith("terraform plan -input=false -no-color -out=tfplan -var image_tag=0a1b")
    targeted = [t for t in deploy_scripts.FOUNDATION_TARGETS if f"-target={t}" in plan]
    assert targeted == (list(deploy_scripts.FOUNDATION_TARGETS) if stage == "foundation" else [])
    assert sorted(p.name for p in (runner.tmp / "out").iterdir()) == [
        ".terraform.lock.hcl",
        "plan-summary.md",
        "tfplan",
    ]
    assert "servespec plan-summary plan.json --env prod" in runner.calls()
    assert f"(stage: {stage}, image 0a1b)" in runner.summary.read_text()


APPLY = (DEPLOY, "apply-prod", "terraform apply (the saved plan)")


def saved_plan(runner: Runner) -> None:
    (runner.tmp / deploy_scripts.PLAN_DIR).mkdir()
    (runner.tmp / deploy_scripts.PLAN_DIR / "tfplan").write_text("plan")


def test_apply_applies_exactly_the_saved_plan(runner: Runner) -> None:
    saved_plan(runner)
    fake(runner.bin, "terraform", TERRAFORM_LOG)
    env = {"GITHUB_WORKSPACE": str(runner.tmp), "ENVIRONMENT": "prod"}
    result = runner.run(step(*APPLY)["run"], env)
    assert result.returncode == 0, result.stderr
    assert runner.calls() == ["terraform apply -input=false -no-color tfplan"]


def test_a_stale_plan_is_not_applied_and_the_way_out_is_said(runner: Runner) -> None:
    saved_plan(runner)
    fake(runner.bin, "terraform", 'echo "Error: Saved plan is stale" >&2; exit 1\n')
    env = {"GITHUB_WORKSPACE": str(runner.tmp), "ENVIRONMENT": "prod"}
    result = runner.run(step(*APPLY)["run"], env)
    assert result.returncode == 1
    # "Re-run failed jobs" re-runs only this job, which downloads the same stale plan again.
    assert "Nothing was applied. Use 'Re-run all jobs' to plan again" in result.stdout
    assert "('Re-run failed jobs' re-runs this job alone, with this same saved plan)" in (
        result.stdout
    )


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_apply_applies_a_saved_plan(name: str) -> None:
    data = workflows(name)[f"servespec-{name}-deploy.yml"]
    runs = [s.get("run", "") for job in data["jobs"].values() for s in job["steps"]]
    applies = [
        line.strip()
        for run in runs
        for line in run.splitlines()
        if line.strip().startswith("terraform apply")
    ]
    plans = [line.split(" 2>")[0].split()[-1] for line in applies]
    assert plans == ["tfplan", "rollback.tfplan"] * 2, applies
    assert not any("auto-approve" in run for run in runs)


REVIEWERS = (DEPLOY, "apply-prod", "The environment enforces reviewers")


@pytest.mark.parametrize(("rules", "code"), [("1", 0), ("0", 1), ("error", 1)])
def test_prod_refuses_an_environment_without_reviewers(
    runner: Runner, rules: str, code: int
) -> None:
    answer = "exit 1" if rules == "error" else f"echo {rules}"
    fake(runner.bin, "gh", f"{LOG_GH}{answer}\n")
    env = {"ENVIRONMENT": "prod", "DEPLOYMENT": "clinical-notes", "GH_TOKEN": "t"}
    result = runner.run(step(*REVIEWERS)["run"], env)
    assert result.returncode == code, result.stderr
    assert runner.calls()[0].startswith("gh api repos/acme/llm-platform/environments/prod")
    if code:
        assert "has no required reviewers" in result.stdout
        assert "Refusing to apply" in result.stdout


# What `gh api --jq` does when GitHub answers with an error (cli/cli pkg/cmd/api/api.go,
# processResponse): the jq filter is skipped, the error body is copied to stdout, "gh: <message>
# (HTTP <status>)" goes to stderr and gh exits 1. A 5xx from a proxy answers HTML instead.
GH_ERRORS = {
    "forbidden": '{"message":"Resource not accessible by integration","status":"403"}',
    "not found": '{"message":"Not Found","status":"404"}',
    "bad gateway": "<html><body><h1>502 Bad Gateway</h1></body></html>",
    "jq over an error body (older gh)": "0",
}


@pytest.mark.parametrize("body", GH_ERRORS.values(), ids=GH_ERRORS.keys())
def test_prod_refuses_when_github_does_not_answer_the_reviewer_question(
    runner: Runner, body: str
) -> None:
    fake(runner.bin, "gh", f"{LOG_GH}echo '{body}'\necho 'gh: request failed' >&2\nexit 1\n")
    env = {"ENVIRONMENT": "prod", "DEPLOYMENT": "clinical-notes", "GH_TOKEN": "t"}
    result = runner.run(step(*REVIEWERS)["run"], env)
    assert result.returncode == 1, result.stdout
    assert "Refusing to apply" in result.stdout


def test_staging_without_approval_has_no_reviewer_guard() -> None:
    steps = json.dumps(step(DEPLOY, "apply-staging", "terraform apply (the saved plan)"))
    assert "apply-staging" not in steps  # the step exists; the guard is prod's only
    with pytest.raises(StopIteration):
        step(DEPLOY, "apply-staging", "The environment enforces reviewers")


def test_smoke_calls_the_contracted_command_through_the_load_balancer(runner: Runner) -> None:
    fake(
        runner.bin,
        "terraform",
        'case "$*" in *api_url*) echo https://notes.example.com ;;'
        " *) echo lb.elb.example ;; esac\n",
    )
    fake(runner.bin, "servespec", 'echo "servespec $*" >> "$CALLS"\n')
    env = {"SPEC": "spec/clinical-notes.yaml", "ENVIRONMENT": "prod"}
    result = runner.run(step(DEPLOY, "apply-prod", "Smoke test")["run"], env)
    assert result.returncode == 0, result.stderr
    assert runner.calls() == [
        "servespec smoke spec/clinical-notes.yaml --env prod --base-url https://notes.example.com"
        " --connect-to lb.elb.example",
    ]


def test_the_first_deploy_seeds_a_key_after_creating_its_secret(runner: Runner) -> None:
    fake(runner.bin, "servespec", 'echo "servespec $*" >> "$CALLS"\n')
    seed = step(DEPLOY, "apply-prod", "Seed the first API key")
    assert "'foundation'" in seed["if"]
    result = runner.run(seed["run"], {"SPEC": "spec/clinical-notes.yaml", "ENVIRONMENT": "prod"})
    assert result.returncode == 0, result.stderr
    assert runner.calls() == ["servespec keys ensure spec/clinical-notes.yaml --env prod"]
    plan = json.dumps(step(DEPLOY, "plan-prod", "terraform plan (saved)"))
    assert "-target=aws_secretsmanager_secret.api_keys" in plan


def test_running_check_compares_with_the_applied_task_definitions(runner: Runner) -> None:
    state = {
        "values": {
            "root_module": {
                "resources": [
                    {"type": "aws_ecs_task_definition", "values": {"arn": "arn:td/cn:7"}},
                    {"type": "aws_s3_bucket", "values": {"arn": "arn:s3"}},
                ]
            }
        }
    }
    fake(
        runner.bin,
        "terraform",
        f"""case "$1 $2" in
  "output -raw") echo cn-prod ;;
  "output -json") echo '{{"current":"cn-prod-current"}}' ;;
  "show -json") echo '{json.dumps(state)}' ;;
esac
""",
    )
    fake(runner.bin, "servespec", 'echo "servespec $*" >> "$CALLS"\n')
    name = "The services run the applied task definitions"
    result = runner.run(step(DEPLOY, "apply-prod", name)["run"], {})
    assert result.returncode == 0, result.stderr
    assert runner.calls() == [
        "servespec release running --cluster cn-prod --service cn-prod-current "
        "--task-definition arn:td/cn:7"
    ]


DRIFT_PLAN = ("servespec-assistant-drift.yml", "drift-prod", "terraform plan -detailed-exitcode")


def test_drift_is_quiet_while_a_deploy_holds_the_state_lock(runner: Runner) -> None:
    fake(runner.bin, "terraform", 'echo "Error: Error acquiring the state lock" >&2; exit 1\n')
    result = runner.run(step(*DRIFT_PLAN)["run"], {"IMAGE_TAG": "abc"})
    assert result.returncode == 0, result.stderr
    assert runner.outputs() == {"drift": "false"}
    assert "an apply is running" in result.stdout


@pytest.mark.parametrize(("statuses", "busy"), [(["completed"], "false"), (["waiting"], "true")])
def test_drift_skips_while_a_deploy_is_in_flight(
    runner: Runner, statuses: list[str], busy: str
) -> None:
    runs = json.dumps([{"status": s} for s in statuses])
    fake(runner.bin, "gh", f"{LOG_GH}printf '%s' '{runs}' | jq \"${{@: -1}}\"\n")
    script = step("servespec-assistant-drift.yml", "deploys", "Count unfinished deploy runs")
    env = {"WORKFLOW": "servespec-assistant-deploy.yml", "GH_TOKEN": "t", "GH_REPO": "a/b"}
    result = runner.run(script["run"], env)
    assert result.returncode == 0, result.stderr
    assert runner.outputs() == {"busy": busy}


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.mark.parametrize(
    ("path", "touched"),
    [
        ("spec/assistant.yaml", "true"),
        ("x.md", "false"),
        # Rendered from every spec and checked only by `servespec compile --check` in validate:
        # a hand edit to either must not skip it (the account root holds the OIDC provider).
        ("generated/accounts/111111111111/terraform/identity.tf", "true"),
        (".github/CODEOWNERS", "true"),
    ],
)
def test_changes_job_decides_from_the_diff(runner: Runner, path: str, touched: str) -> None:
    repo = runner.tmp
    git(repo, "init", "-q")
    git(
        repo,
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@t",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "a",
    )
    base = git(repo, "rev-parse", "HEAD")
    (repo / path).parent.mkdir(parents=True, exist_ok=True)
    (repo / path).write_text("x\n")
    git(repo, "add", path)
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "b")
    changes = step("servespec-assistant-pr.yml", "changes", "Compare with the base")
    env = {**changes["env"], "BASE_SHA": base, "HEAD_SHA": git(repo, "rev-parse", "HEAD")}
    result = runner.run(changes["run"], env)
    assert result.returncode == 0, result.stderr
    assert runner.outputs() == {"touched": touched}


@pytest.mark.parametrize(
    ("results", "code"),
    [
        ({"plan-prod": "success", "validate": "skipped"}, 0),
        ({"plan-prod": "failure", "validate": "success"}, 1),
        ({"policy": "cancelled"}, 1),
    ],
)
def test_required_check(runner: Runner, results: dict[str, str], code: int) -> None:
    needs = json.dumps({job: {"result": r, "outputs": {}} for job, r in results.items()})
    required = step(
        "servespec-assistant-pr.yml", "required", "Every needed job passed or was skipped"
    )
    assert runner.run(required["run"], {"RESULTS": needs}).returncode == code


def _write_the_comment(runner: Runner) -> str:
    """Run the PR's sticky-comment step (diff summary and gh faked) and return comment.md."""
    fake(runner.bin, "servespec", 'printf "### plan\\n"\n')
    fake(runner.bin, "gh", f'{LOG_GH}[ "$2" = "--paginate" ] && exit 0\n:\n')
    comment = step("servespec-assistant-pr.yml", "comment", "Write or update the sticky comment")
    env = {**comment["env"], "GH_TOKEN": "t", "PR_NUMBER": "7", "BASE_SHA": "abc", "RUN_URL": "u"}
    env = {k: v for k, v in env.items() if "${{" not in v}
    result = runner.run(comment["run"], env)
    assert result.returncode == 0, result.stderr
    return (runner.tmp / "comment.md").read_text()


def test_the_comment_carries_each_environments_resource_list(runner: Runner) -> None:
    summaries = runner.tmp / "plan-summaries"
    summaries.mkdir()
    (summaries / "plan-summary-prod.md").write_text("- 🔁 replace `aws_lb.main`\n")
    body = _write_the_comment(runner)
    assert body == "### plan\n\n- 🔁 replace `aws_lb.main`\n\n[Workflow run](u)\n"


def test_rollback_restores_the_previous_release_together(runner: Runner) -> None:
    fake(
        runner.bin,
        "git",
        'echo "git $*" >> "$CALLS"\n'
        'if [ "$1" = worktree ]; then mkdir -p "$4/generated/assistant/prod/terraform"; fi\n',
    )
    fake(runner.bin, "terraform", TERRAFORM_LOG + '[ "$1" = show ] && echo "{}"\n:\n')
    fake(runner.bin, "servespec", 'echo "servespec $*" >> "$CALLS"\n')
    rollback = step(
        DEPLOY.replace("clinical-notes", "assistant"),
        "apply-prod",
        "Roll back to the previous release",
    )
    env = {
        "PREVIOUS": "0a1b2c",
        "ENVIRONMENT": "prod",
        "TF_DIR": "generated/assistant/prod/terraform",
        "RUNNER_TEMP": str(runner.tmp / "temp"),
    }
    result = runner.run(rollback["run"], env)
    assert result.returncode == 0, result.stderr
    calls = runner.calls()
    assert calls[0] == f"git worktree add --detach {runner.tmp}/temp/previous 0a1b2c"
    assert (
        "terraform plan -input=false -no-color -out=rollback.tfplan -var image_tag=0a1b2c" in calls
    )
    assert calls[-1] == "terraform apply -input=false -no-color rollback.tfplan"
    assert "rolled back to 0a1b2c" in runner.summary.read_text()


def test_the_comment_flags_administrator_roots(runner: Runner) -> None:
    fake(
        runner.bin,
        "git",
        'echo "git $*" >> "$CALLS"\n'
        "printf 'generated/assistant/bootstrap/222222222222/state.tf\\n"
        "generated/assistant/bootstrap/222222222222/x.tf\\n'\n",
    )
    body = _write_the_comment(runner)
    assert body.count("root changed") == 1
    # One bootstrap per account: the comment names the account's root.
    assert "**`bootstrap/222222222222` root changed** (its read-only plan is above)" in body
    assert "`terraform -chdir=generated/assistant/bootstrap/222222222222 plan`" in body
    assert "git diff --name-only abc HEAD -- generated/assistant/bootstrap" in runner.calls()[0]


SERVESPEC_LOG = 'echo "servespec $*" >> "$CALLS"\n'
FAKE_BUILD = SERVESPEC_LOG + (
    'out="${@: -1}"; mkdir -p "$out"; echo "{\\"v\\": \\"$out\\"}" > "$out/manifest.json"\n'
)


def test_a_first_deploy_marks_every_variant_artifact_missing(runner: Runner) -> None:
    fake(runner.bin, "terraform", "exit 1\n")  # no state yet: no registry output
    status = step(DEPLOY, "plan-prod", "What the release lacks")
    result = runner.run(status["run"], status["env"])
    assert result.returncode == 0, result.stderr
    assert runner.outputs() == {
        "image_present": "false",
        "model_present": "false",
        "model_present_current": "false",
        "model_present_candidate": "false",
        "stage": "foundation",
    }


def test_the_build_makes_only_the_variant_artifacts_missing(runner: Runner) -> None:
    fake(runner.bin, "python", ":\n")  # the toolchain install
    fake(runner.bin, "servespec", FAKE_BUILD)
    build = step(DEPLOY, "build", "Build the model artifacts")
    env = {"NEED_STAGING_CURRENT": "false", "NEED_STAGING_CANDIDATE": "true"}
    result = runner.run(build["run"], env)
    assert result.returncode == 0, result.stderr
    assert runner.calls() == [
        "servespec model build spec/clinical-notes.yaml --env staging --variant candidate"
        " --out release/model-staging-candidate"
    ]
    manifest = runner.tmp / "release/model-staging-candidate/manifest.json"
    expected = subprocess.run(
        ["sha256sum", str(manifest)], capture_output=True, text=True, check=True
    ).stdout.split()[0]
    assert runner.outputs() == {"model_sha256_staging_candidate": expected}


@pytest.mark.parametrize("variant", ["current", "candidate"])
def test_each_variant_is_pushed_under_its_own_name(runner: Runner, variant: str) -> None:
    artifact = runner.tmp / f"model-{variant}"
    artifact.mkdir()
    (artifact / "manifest.json").write_text("{}")
    fake(runner.bin, "servespec", SERVESPEC_LOG)
    push = step(DEPLOY, "apply-prod", f"Push the model artifact (variant {variant})")
    sha = subprocess.run(
        ["sha256sum", str(artifact / "manifest.json")], capture_output=True, text=True, check=True
    ).stdout.split()[0]
    env = {**push["env"], "MODEL_SHA256": sha, "ARTIFACT": str(artifact), "SPEC": "s.yaml"}
    result = runner.run(push["run"], env)
    assert result.returncode == 0, result.stderr
    assert runner.calls() == [
        f"servespec model push s.yaml --env prod --variant {variant} {artifact}"
    ]
    # An artifact that is not the one the build job hashed is never pushed.
    result = runner.run(push["run"], {**env, "MODEL_SHA256": "0" * 64})
    assert result.returncode != 0
    assert len(runner.calls()) == 1


GATE = ("servespec-assistant-deploy.yml", "apply-prod", "Evaluation gate")
DEPLOYED = "s3://assistant-prod-models-1/models/assistant-llm/2026-10-01/"


def deployed_state(artifact: str | None, *variants: tuple[str, str]) -> str:
    """`terraform state pull` of a deployed release serving `artifact` (none: first deploy),
    or one task definition per (variant, artifact)."""
    served = [("", artifact)] if artifact else list(variants)
    resources = []
    for variant, uri in served:
        env = [{"name": "SERVESPEC_ARTIFACT", "value": uri}]
        if variant:
            env.append({"name": "SERVESPEC_VARIANT", "value": variant})
        container = [{"image": "r:abc", "environment": env}]
        resources.append(
            {
                "type": "aws_ecs_task_definition",
                "instances": [{"attributes": {"container_definitions": json.dumps(container)}}],
            }
        )
    return json.dumps({"resources": resources})


def gate_fakes(runner: Runner, artifact: str | None, verdict: int) -> dict[str, str]:
    (runner.tmp / "state.json").write_text(deployed_state(artifact))
    fake(runner.bin, "terraform", TERRAFORM_LOG + 'cat "$STATE"\n')
    fake(runner.bin, "servespec", SERVESPEC_LOG + f'echo "eval: verdict"\nexit {verdict}\n')
    gate = step(*GATE)
    assert gate["working-directory"] == "."
    return {
        **gate["env"],
        "ARTIFACT": "cand",
        "SPEC": "s.yaml",
        "STATE": str(runner.tmp / "state.json"),
    }


def test_the_gate_evaluates_against_the_deployed_model(runner: Runner) -> None:
    result = runner.run(step(*GATE)["run"], gate_fakes(runner, DEPLOYED, 0))
    assert result.returncode == 0, result.stderr
    assert runner.calls() == [
        "terraform -chdir=generated/assistant/prod/terraform state pull",
        f"servespec eval cand --spec s.yaml --env prod --baseline {DEPLOYED}",
    ]
    assert f"Baseline: {DEPLOYED}" in runner.summary.read_text()


def test_a_variant_is_gated_against_its_own_deployed_model(runner: Runner) -> None:
    env = gate_fakes(runner, None, 0)
    state = deployed_state(
        None, ("current", "s3://b/models/m/1/"), ("candidate", "s3://b/models/m/0/")
    )
    (runner.tmp / "state.json").write_text(state)
    for variant, expected in (("current", "s3://b/models/m/1/"), ("new", "s3://b/models/m/0/")):
        result = runner.run(step(*GATE)["run"], {**env, "VARIANT": variant})
        assert result.returncode == 0, result.stderr
        assert runner.calls()[-1].endswith(f"--baseline {expected}")


def test_a_first_deploy_is_gated_without_a_baseline(runner: Runner) -> None:
    result = runner.run(step(*GATE)["run"], gate_fakes(runner, None, 0))
    assert result.returncode == 0, result.stderr
    assert runner.calls()[-1] == "servespec eval cand --spec s.yaml --env prod"
    assert "none (first deploy)" in runner.summary.read_text()


def test_a_refused_candidate_fails_the_job_before_any_push(runner: Runner) -> None:
    result = runner.run(step(*GATE)["run"], gate_fakes(runner, DEPLOYED, 1))
    assert result.returncode == 1
    assert "fails prod's evaluation gate" in result.stdout + result.stderr
    # In the job, the gate comes before the push and the apply of the same stage.
    names = [s["name"] for s in workflows("assistant")[GATE[0]]["jobs"]["apply-prod"]["steps"]]
    gate_at = names.index("Evaluation gate")
    assert (
        gate_at
        < names.index("Push the model artifact")
        < names.index("terraform apply (the saved plan)")
    )


def test_no_gate_without_deployment_eval() -> None:
    steps = workflows("clinical-notes")[DEPLOY]["jobs"]["apply-prod"]["steps"]
    assert not [s for s in steps if s["name"].startswith("Evaluation gate")]
