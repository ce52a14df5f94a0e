"""What GitHub does on the deploy's recovery paths: re-runs of a run, and artifacts it expires.

A re-run is the same workflow run (same run id): "Re-run all jobs" uploads every artifact
again under the same name, and upload-artifact v4+ answers 409 Conflict ("an artifact with
this name already exists on the workflow run") unless `overwrite: true` ("If false, the
action will fail if an artifact for the given name already exists", action.yml of the pinned
actions/upload-artifact v7.0.0). And artifacts expire: the apply job downloads the reviewed
plan and the release after its approval, which may come weeks after the plan job uploaded them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from compiler.workflows import actions

from .helpers import EXAMPLES, workflows
from .test_scripts import Runner


@pytest.fixture
def runner(tmp_path: Path) -> Runner:
    return Runner(tmp_path)


def uploads(name: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(workflow file, job id, upload step) for every upload-artifact step of an example."""
    return [
        (file, job_id, step)
        for file, data in workflows(name).items()
        for job_id, job in data["jobs"].items()
        for step in job["steps"]
        if step.get("uses") == actions.UPLOAD_ARTIFACT.ref
    ]


@pytest.mark.parametrize("name", EXAMPLES)
def test_a_rerun_of_all_jobs_can_upload_its_artifacts_again(name: str) -> None:
    found = uploads(name)
    # The saved plans, the release and the PR's resource lists at least.
    assert {step["with"]["name"] for _, _, step in found} >= {
        "plan-staging",
        "plan-prod",
        "release",
        "plan-summary-prod",
    }
    refusing = [
        (f, j, s["with"]["name"]) for f, j, s in found if s["with"].get("overwrite") is not True
    ]
    assert refusing == []


# GitHub cancels a run 35 days after it starts, approvals included; one approval may wait 30
# days (https://docs.github.com/en/actions/reference/limits). Prod waits for staging's too.
RUN_LIMIT_DAYS = 35


@pytest.mark.parametrize("name", EXAMPLES)
def test_what_the_apply_downloads_outlives_every_wait_for_approval(name: str) -> None:
    deploy = f"servespec-{name}-deploy.yml"
    kept = {s["with"]["name"]: s["with"] for f, _, s in uploads(name) if f == deploy}
    assert set(kept) == {"plan-staging", "plan-prod", "release"}
    assert {
        n: w["retention-days"] for n, w in kept.items() if w["retention-days"] < RUN_LIMIT_DAYS
    } == {}


@pytest.mark.parametrize("job", ["apply-staging", "apply-prod"])
def test_an_expired_plan_or_release_says_what_to_do(runner: Runner, job: str) -> None:
    steps = workflows("assistant")["servespec-assistant-deploy.yml"]["jobs"][job]["steps"]
    downloads = [s for s in steps if s.get("uses") == actions.DOWNLOAD_ARTIFACT.ref]
    assert [s["with"]["name"] for s in downloads] == [f"plan-{job.split('-')[1]}", "release"]
    explain = steps[steps.index(downloads[-1]) + 1]
    # It runs when a download failed, and only then.
    assert (
        explain["if"]
        == "failure() && ("
        + " || ".join(f"steps.{s['id']}.outcome == 'failure'" for s in downloads)
        + ")"
    )
    result = runner.run(explain["run"], explain["env"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"::error::the reviewed plan of {job.split('-')[1]} ")
    assert "Nothing was applied. Use 'Re-run all jobs' to plan again" in result.stdout
