"""What GitHub does on the deploy's recovery paths: re-runs of a run, and artifacts it expires.

A re-run is the same workflow run (same run id): "Re-run all jobs" uploads every artifact
again under the same name, and upload-artifact v4+ answers 409 Conflict ("an artifact with
this name already exists on the workflow run") unless `overwrite: true` ("If false, the
action will fail if an artifact for the given name already exists", action.yml of the pinned
actions/upload-artifact v7.0.0).
"""

from __future__ import annotations

from typing import Any

import pytest

from compiler.workflows import actions

from .helpers import EXAMPLES, workflows


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
