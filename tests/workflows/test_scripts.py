"""The shell inside the generated steps, run for real with bash, jq and fake CLIs.

actionlint and shellcheck prove the scripts are well-formed; these tests prove they do the
right thing: count a plan like terraform does, keep one sticky comment, open one drift issue,
fail a bake on a firing alarm, refuse to deploy nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from compiler.workflows.pr import PLAN_COUNTS_JQ

from .helpers import workflows

pytestmark = pytest.mark.skipif(shutil.which("jq") is None, reason="jq is not installed")


def step(file: str, job: str, name: str) -> dict[str, Any]:
    deployment = file.split("-", 1)[1].rsplit("-", 1)[0]
    data = workflows(deployment)[file]
    return next(s for s in data["jobs"][job]["steps"] if s["name"] == name)


def fake(bin_dir: Path, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text("#!/usr/bin/env bash\n" + body)
    path.chmod(0o755)


class Runner:
    """Runs a step's script like GitHub does (bash -eo pipefail), with fakes first on PATH."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.bin = tmp / "bin"
        self.bin.mkdir()
        self.log = tmp / "calls.log"
        self.output = tmp / "github_output"
        self.summary = tmp / "step_summary"

    def run(self, script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        self.output.write_text("")
        full_env = {
            **os.environ,
            **env,
            "PATH": f"{self.bin}{os.pathsep}{os.environ['PATH']}",
            "CALLS": str(self.log),
            "GITHUB_OUTPUT": str(self.output),
            "GITHUB_STEP_SUMMARY": str(self.summary),
            "GITHUB_REPOSITORY": "acme/llm-platform",
        }
        return subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
            cwd=self.tmp,
            env=full_env,
            capture_output=True,
            text=True,
            check=False,
        )

    def outputs(self) -> dict[str, str]:
        lines = self.output.read_text().splitlines()
        return dict(line.split("=", 1) for line in lines)

    def calls(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []


@pytest.fixture
def runner(tmp_path: Path) -> Runner:
    return Runner(tmp_path)


def jq(program: str, document: object) -> Any:
    result = subprocess.run(
        ["jq", "-c", program], input=json.dumps(document), capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_plan_counts_match_terraform() -> None:
    def change(*actions: str) -> dict[str, Any]:
        return {"change": {"actions": list(actions)}}

    plan = {
        "resource_changes": [
            change("create"),
            change("create"),
            change("update"),
            change("delete", "create"),  # replace: one add and one destroy
            change("create", "delete"),
            change("delete"),
            change("no-op"),
            change("read"),
        ]
    }
    assert jq(PLAN_COUNTS_JQ, plan) == {"add": 4, "change": 1, "destroy": 3}
    assert jq(PLAN_COUNTS_JQ, {"format_version": "1.2"}) == {"add": 0, "change": 0, "destroy": 0}


STICKY = ("servespec-assistant-pr.yml", "comment", "Write or update the sticky comment")


# One log line per call, even when an argument (a comment body) spans lines.
LOG_GH = 'echo "gh $*" | tr "\\n" " " >> "$CALLS"; echo >> "$CALLS"\n'


def sticky_fakes(runner: Runner, comments: list[dict[str, Any]]) -> None:
    fake(runner.bin, "servespec", 'echo "$*" >> "$CALLS"; printf "### plan\\n- scaling\\n"\n')
    # gh api --paginate ... --jq PROGRAM: apply the program to canned comments with real jq.
    fake(
        runner.bin,
        "gh",
        f"""{LOG_GH}
if [ "$2" = "--paginate" ]; then
  printf '%s' '{json.dumps(comments)}' | jq -r "$5"
fi
""",
    )


def sticky_env() -> dict[str, str]:
    return {
        "GH_TOKEN": "t",
        "PR_NUMBER": "7",
        "BASE_SHA": "abc",
        "SPEC": "spec/assistant.yaml",
        "RUN_URL": "https://x/run/1",
        "PLAN_STAGING": '{"add":1,"change":0,"destroy":0}',
        "PLAN_PROD": "",
    }


def test_sticky_comment_is_created_once(runner: Runner) -> None:
    sticky_fakes(runner, [{"id": 1, "body": "LGTM"}])
    result = runner.run(step(*STICKY)["run"], sticky_env())
    assert result.returncode == 0, result.stderr
    calls = runner.calls()
    assert calls[0] == (
        "diff-summary spec/assistant.yaml --base-ref abc "
        '--plan staging={"add":1,"change":0,"destroy":0} --plan prod='
    )
    assert calls[-1].startswith("gh api --method POST repos/acme/llm-platform/issues/7/comments")
    assert "<!-- servespec:assistant:plan -->" in calls[-1]


def test_sticky_comment_is_updated_in_place(runner: Runner) -> None:
    marker = "<!-- servespec:assistant:plan -->"
    comments = [{"id": 5, "body": "LGTM"}, {"id": 9, "body": f"{marker}\n\nold plan"}]
    sticky_fakes(runner, comments)
    result = runner.run(step(*STICKY)["run"], sticky_env())
    assert result.returncode == 0, result.stderr
    assert runner.calls()[-1].startswith(
        "gh api --method PATCH repos/acme/llm-platform/issues/comments/9 -f body="
    )


DRIFT_PLAN = ("servespec-assistant-drift.yml", "drift-prod", "terraform plan -detailed-exitcode")


@pytest.mark.parametrize(("code", "drift"), [(0, "false"), (2, "true")])
def test_drift_plan_exit_codes(runner: Runner, code: int, drift: str) -> None:
    fake(
        runner.bin,
        "terraform",
        f"""echo "terraform $*" >> "$CALLS"
if [ "$1" = plan ]; then exit {code}; fi
echo '{{"resource_changes":[{{"change":{{"actions":["update"]}}}}]}}'
""",
    )
    result = runner.run(step(*DRIFT_PLAN)["run"], {"IMAGE_TAG": "abc123"})
    assert result.returncode == 0, result.stderr
    assert runner.outputs()["drift"] == drift
    assert runner.calls()[0].endswith("-detailed-exitcode -out=tfplan -var image_tag=abc123")
    if drift == "true":
        assert json.loads(runner.outputs()["counts"]) == {"add": 0, "change": 1, "destroy": 0}


def test_plan_without_a_deployed_tag_passes_no_variable(runner: Runner) -> None:
    fake(runner.bin, "terraform", 'echo "terraform $*" >> "$CALLS"\n')
    result = runner.run(step(*DRIFT_PLAN)["run"], {"IMAGE_TAG": ""})
    assert result.returncode == 0, result.stderr
    assert "image_tag" not in runner.calls()[0]


def test_drift_plan_error_fails_the_job(runner: Runner) -> None:
    fake(runner.bin, "terraform", "exit 1\n")
    result = runner.run(step(*DRIFT_PLAN)["run"], {})
    assert result.returncode == 1


DRIFT_REPORT = ("servespec-assistant-drift.yml", "report-prod", "Open or update the drift issue")


@pytest.mark.parametrize(("listed", "verb"), [("", "create"), ("12", "comment 12")])
def test_drift_issue_is_opened_or_updated(runner: Runner, listed: str, verb: str) -> None:
    fake(runner.bin, "gh", f'{LOG_GH}[ "$2" = list ] && echo "{listed}"\n:\n')
    counts = '{"add":0,"change":1,"destroy":0}'
    env = {"DEPLOYMENT": "assistant", "ENVIRONMENT": "prod", "COUNTS": counts, "RUN_URL": "u"}
    result = runner.run(step(*DRIFT_REPORT)["run"], env)
    assert result.returncode == 0, result.stderr
    call = runner.calls()[-1]
    assert call.startswith(f"gh issue {verb}")
    assert "Terraform plan for `assistant` in `prod` no longer matches the live stack." in call
    assert "Planned: 0 to add, 1 to change, 0 to destroy." in call


DEPLOY = "servespec-clinical-notes-deploy.yml"


def task_definition_state(image: str) -> dict[str, Any]:
    definitions = json.dumps([{"name": "runtime", "image": image}])
    return {
        "resources": [
            {"type": "aws_s3_bucket", "instances": [{"attributes": {"bucket": "b"}}]},
            {
                "type": "aws_ecs_task_definition",
                "instances": [{"attributes": {"container_definitions": definitions}}],
            },
        ]
    }


@pytest.mark.parametrize(
    ("state", "tag"),
    [
        (task_definition_state("1.dkr.ecr.us-east-1.amazonaws.com/cn-prod:0a1b2c"), "0a1b2c"),
        (None, ""),  # no state before the first apply
        (task_definition_state("evil:$(reboot)"), ""),
    ],
)
def test_read_deployed_tag(runner: Runner, state: dict[str, Any] | None, tag: str) -> None:
    body = "" if state is None else json.dumps(state)
    fake(runner.bin, "terraform", f"printf '%s' '{body}'\n")
    script = step(DEPLOY, "apply-prod", "Remember the deployed release")["run"]
    result = runner.run(script, {})
    assert result.returncode == 0, result.stderr
    assert runner.outputs() == {"image_tag": tag}


ROLLOUT = "Wait for the ECS rollout (up to 30 min)"


@pytest.mark.parametrize(("state", "code"), [("COMPLETED", 0), ("FAILED", 1)])
def test_rollout_wait(runner: Runner, state: str, code: int) -> None:
    fake(
        runner.bin,
        "terraform",
        'case "$2" in -raw) echo cn-prod ;; '
        '-json) echo \'{"current":"cn-prod-current"}\' ;; esac\n',
    )
    deployments = {"services": [{"deployments": [{"status": "PRIMARY", "rolloutState": state}]}]}
    fake(runner.bin, "aws", f'echo "aws $*" >> "$CALLS"\necho \'{json.dumps(deployments)}\'\n')
    result = runner.run(step(DEPLOY, "apply-prod", ROLLOUT)["run"], {"ROLLOUT_MINUTES": "60"})
    assert result.returncode == code, result.stderr
    assert runner.calls()[0].startswith(
        "aws ecs describe-services --cluster cn-prod --services cn-prod-current"
    )


@pytest.mark.parametrize(("firing", "code"), [("None", 0), ("clinical-notes-prod-p99", 1)])
def test_alarm_check(runner: Runner, firing: str, code: int) -> None:
    fake(runner.bin, "aws", f'echo "aws $*" >> "$CALLS"\necho "{firing}"\n')
    script = step(DEPLOY, "apply-prod", "Check the deployment alarms")["run"]
    result = runner.run(script, {"ALARM_PREFIX": "clinical-notes-prod-"})
    assert result.returncode == code
    assert "--alarm-name-prefix clinical-notes-prod- --state-value ALARM" in runner.calls()[0]


def push_fakes(runner: Runner, manifest: str, already_there: bool) -> str:
    """Fakes whose archive and registry both hold `manifest`; returns its digest."""
    fake(runner.bin, "terraform", "echo 1.dkr.ecr.us-east-1.amazonaws.com/cn-prod\n")
    fake(runner.bin, "aws", "echo token\n")
    exists = ":" if already_there else '[ -f "$CALLS.copied" ] || exit 1'
    fake(
        runner.bin,
        "skopeo",
        f"""echo "skopeo $*" >> "$CALLS"
case "$1 $3" in
  "login "*) cat > /dev/null ;;
  "inspect oci-archive:"*) printf '%s' '{manifest}' ;;
  "inspect docker://"*) {exists}; printf '%s' '{manifest}' ;;
  "copy "*) touch "$CALLS.copied" ;;
esac
""",
    )
    return "sha256:" + hashlib.sha256(manifest.encode()).hexdigest()


PUSH = (DEPLOY, "apply-prod", "Push the image")


def test_push_copies_the_archive_keeping_its_digest(runner: Runner) -> None:
    digest = push_fakes(runner, '{"schemaVersion":2}', already_there=False)
    result = runner.run(step(*PUSH)["run"], {"IMAGE_TAG": "0a1b", "IMAGE_DIGEST": digest})
    assert result.returncode == 0, result.stderr
    copy = next(c for c in runner.calls() if c.startswith("skopeo copy"))
    assert copy.startswith("skopeo copy --preserve-digests oci-archive:")
    assert copy.endswith("docker://1.dkr.ecr.us-east-1.amazonaws.com/cn-prod:0a1b")


def test_push_is_skipped_when_the_tag_is_already_there(runner: Runner) -> None:
    digest = push_fakes(runner, '{"schemaVersion":2}', already_there=True)
    result = runner.run(step(*PUSH)["run"], {"IMAGE_TAG": "0a1b", "IMAGE_DIGEST": digest})
    assert result.returncode == 0, result.stderr
    assert not any(c.startswith("skopeo copy") for c in runner.calls())


def test_push_refuses_an_archive_that_is_not_the_built_image(runner: Runner) -> None:
    push_fakes(runner, '{"schemaVersion":2}', already_there=False)
    env = {"IMAGE_TAG": "0a1b", "IMAGE_DIGEST": "sha256:" + "0" * 64}
    result = runner.run(step(*PUSH)["run"], env)
    assert result.returncode == 1
    assert "image archive is sha256:" in result.stdout
    assert not any(c.startswith("skopeo copy") for c in runner.calls())
