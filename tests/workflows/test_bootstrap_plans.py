"""The bootstrap roots under GitOps: planned read-only in pull requests that change them,
drift-checked on schedule, their state in the bucket they create."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from compiler.terraform import emit as emit_terraform

from .helpers import environments, workflows
from .test_scripts import LOG_GH, Runner, fake, step

ACCOUNT = "111111111111"  # assistant's staging account
ROOT = f"generated/assistant/bootstrap/{ACCOUNT}"


@pytest.fixture
def runner(tmp_path: Path) -> Runner:
    return Runner(tmp_path)


def _backend(text: str) -> dict[str, str]:
    """`name = value` lines of the rendered `backend "s3"` block."""
    block = text.split('backend "s3" {', 1)[1].split("}", 1)[0]
    pairs = (line.split("=", 1) for line in block.splitlines() if "=" in line)
    return {k.strip(): v.strip().strip('"') for k, v in pairs}


def test_the_bootstrap_keeps_its_state_in_its_own_bucket() -> None:
    files = {a.path: a.content for a in emit_terraform(environments("assistant"))}
    backend = _backend(files[f"{ROOT}/versions.tf"])
    staging = _backend(files["generated/assistant/staging/terraform/versions.tf"])
    assert backend["key"] == f"assistant/bootstrap/{ACCOUNT}.tfstate"
    # The bucket the environments of that account use, which this root creates.
    assert backend["bucket"] == staging["bucket"]
    assert backend["encrypt"] == "true" and backend["use_lockfile"] == "true"
    assert backend["kms_key_id"] == "alias/assistant-tfstate"
    # The plan role may read that state and take its lockfile (drift), nothing more.
    oidc = files[f"{ROOT}/github_oidc.tf"]
    assert f"/assistant/bootstrap/{ACCOUNT}.tfstate" in oidc
    assert f"/assistant/bootstrap/{ACCOUNT}.tfstate.tflock" in oidc


def test_pr_plans_each_account_bootstrap_with_a_plan_role_of_that_account() -> None:
    jobs = workflows("assistant")["servespec-assistant-pr.yml"]["jobs"]
    for account, env in ((ACCOUNT, "STAGING"), ("222222222222", "PROD")):
        key = f"bootstrap-{account}"
        assert jobs["changes"]["outputs"][key] == f"${{{{ steps.{key}.outputs.changed }}}}"
        plan = jobs[f"plan-{key}"]
        assert plan["if"].startswith(f"needs.changes.outputs.{key} == 'true' && ")
        assert (
            plan["defaults"]["run"]["working-directory"]
            == f"generated/assistant/bootstrap/{account}"
        )
        creds = next(s for s in plan["steps"] if s.get("uses", "").startswith("aws-actions/"))
        assert (
            creds["with"]["role-to-assume"]
            == f"${{{{ vars.SERVESPEC_ASSISTANT_{env}_PLAN_ROLE_ARN }}}}"
        )
        runs = [s.get("run", "") for s in plan["steps"]]
        assert any("-lock=false" in r and "terraform plan" in r for r in runs)
        assert f"plan-{key}" in jobs["comment"]["needs"]
        assert f"plan-{key}" in jobs["required"]["needs"]
        assert "Plan " + key + " (read-only; an administrator applies it)" == plan["name"]


def _repo(tmp: Path, change: str) -> tuple[str, str]:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=tmp, capture_output=True, text=True, check=True)
        return done.stdout.strip()

    git("init", "-q")
    git("config", "user.email", "t@example.com")
    git("config", "user.name", "t")
    (tmp / ROOT).mkdir(parents=True)
    (tmp / ROOT / "state.tf").write_text("a\n")
    (tmp / "other.txt").write_text("a\n")
    git("add", "-A")
    git("commit", "-qm", "base")
    base = git("rev-parse", "HEAD")
    (tmp / change).write_text("b\n")
    git("commit", "-qam", "change")
    return base, git("rev-parse", "HEAD")


@pytest.mark.parametrize(
    ("change", "changed"), [(f"{ROOT}/state.tf", "true"), ("other.txt", "false")]
)
def test_changes_job_says_whether_the_bootstrap_changed(
    runner: Runner, change: str, changed: str
) -> None:
    base, head = _repo(runner.tmp, change)
    found = step("servespec-assistant-pr.yml", "changes", f"Does it change {ROOT}?")
    env = {**found["env"], "BASE_SHA": base, "HEAD_SHA": head}
    result = runner.run(found["run"], env)
    assert result.returncode == 0, result.stderr
    assert runner.outputs()["changed"] == changed


DRIFT = ("servespec-assistant-drift.yml", f"drift-bootstrap-{ACCOUNT}")


def test_drift_plans_the_bootstrap_and_reports_it(runner: Runner) -> None:
    fake(
        runner.bin,
        "terraform",
        """echo "terraform $*" >> "$CALLS"
if [ "$1" = plan ]; then exit 2; fi
echo '{"resource_changes":[{"change":{"actions":["delete","create"]}}]}'
""",
    )
    result = runner.run(step(*DRIFT, "terraform plan -detailed-exitcode")["run"], {})
    assert result.returncode == 0, result.stderr
    assert runner.outputs()["drift"] == "true"
    assert json.loads(runner.outputs()["counts"]) == {"add": 1, "change": 0, "destroy": 1}
    assert "-lock-timeout=0s -detailed-exitcode" in runner.calls()[0]
    data = workflows("assistant")["servespec-assistant-drift.yml"]["jobs"]
    assert data[DRIFT[1]]["concurrency"]["group"] == f"servespec-assistant-bootstrap-{ACCOUNT}"
    report = data[f"report-bootstrap-{ACCOUNT}"]
    assert report["needs"] == DRIFT[1]
    fake(runner.bin, "gh", f"{LOG_GH}:\n")
    env = {**report["steps"][0]["env"], "COUNTS": '{"add":1,"change":0,"destroy":1}'}
    result = runner.run(report["steps"][0]["run"], env)
    assert result.returncode == 0, result.stderr
    assert f"servespec drift: assistant/bootstrap-{ACCOUNT}" in runner.calls()[-1]


def test_drift_of_the_bootstrap_is_quiet_while_an_administrator_applies(runner: Runner) -> None:
    fake(runner.bin, "terraform", 'echo "Error: Error acquiring the state lock" >&2; exit 1\n')
    result = runner.run(step(*DRIFT, "terraform plan -detailed-exitcode")["run"], {})
    assert result.returncode == 0, result.stderr
    assert runner.outputs()["drift"] == "false"
