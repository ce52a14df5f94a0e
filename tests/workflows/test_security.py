"""Security properties of every emitted job, checked on the data rather than by eye."""

from __future__ import annotations

import re
from typing import Any

import pytest

from compiler.spec import ResolvedSpec
from compiler.workflows import actions, deploy

from .helpers import EXAMPLES, all_jobs, environments, steps_of, workflows

JOBS = all_jobs()
IDS = [f"{file}:{job_id}" for file, job_id, _ in JOBS]
EXPRESSION = re.compile(r"\$\{\{")


def uses(job: dict[str, Any]) -> list[str]:
    return [step["uses"] for step in steps_of(job) if "uses" in step]


def assumes_role(job: dict[str, Any]) -> bool:
    return any(ref == actions.CONFIGURE_AWS.ref for ref in uses(job))


@pytest.mark.parametrize("name", EXAMPLES)
def test_workflow_grants_nothing_by_default(name: str) -> None:
    for data in workflows(name).values():
        assert data["permissions"] == {}
        assert "pull_request_target" not in data["on"]
        assert "workflow_run" not in data["on"]


@pytest.mark.parametrize(("file", "job_id", "job"), JOBS, ids=IDS)
def test_every_job_has_timeout_and_explicit_permissions(
    file: str, job_id: str, job: dict[str, Any]
) -> None:
    assert 0 < job["timeout-minutes"] <= 24 * 60
    assert isinstance(job["permissions"], dict) and "write-all" not in str(job["permissions"])


@pytest.mark.parametrize(("file", "job_id", "job"), JOBS, ids=IDS)
def test_oidc_only_where_a_role_is_assumed(file: str, job_id: str, job: dict[str, Any]) -> None:
    # id-token: write lets a job mint tokens for any audience: only role-assuming jobs get it.
    assert (job["permissions"].get("id-token") == "write") == assumes_role(job)
    for step in steps_of(job):
        if step.get("uses") == actions.CONFIGURE_AWS.ref:
            given = step["with"]
            assert set(given) & {"aws-access-key-id", "aws-secret-access-key"} == set()
            assert given["role-to-assume"].startswith("${{ vars.SERVESPEC_")


@pytest.mark.parametrize(("file", "job_id", "job"), JOBS, ids=IDS)
def test_github_write_access_never_meets_aws_credentials(
    file: str, job_id: str, job: dict[str, Any]
) -> None:
    writes = {k for k, v in job["permissions"].items() if v == "write" and k != "id-token"}
    if assumes_role(job):
        assert writes == set()
    if "issues" in writes:
        assert job_id.startswith("report-")
    if "pull-requests" in writes:
        assert job_id == "comment"


@pytest.mark.parametrize(("file", "job_id", "job"), JOBS, ids=IDS)
def test_no_expression_inside_run(file: str, job_id: str, job: dict[str, Any]) -> None:
    # Values reach scripts through env: and are quoted there; never spliced into the script.
    for step in steps_of(job):
        assert not EXPRESSION.search(step.get("run", "")), step["name"]


@pytest.mark.parametrize(("file", "job_id", "job"), JOBS, ids=IDS)
def test_every_uses_is_a_pinned_action(file: str, job_id: str, job: dict[str, Any]) -> None:
    pinned = {action.ref for action in actions.ALL}
    for ref in uses(job):
        assert ref in pinned


@pytest.mark.parametrize(("file", "job_id", "job"), JOBS, ids=IDS)
def test_checkout_leaves_no_credentials(file: str, job_id: str, job: dict[str, Any]) -> None:
    for step in steps_of(job):
        if step.get("uses") == actions.CHECKOUT.ref:
            assert step["with"]["persist-credentials"] is False


@pytest.mark.parametrize(("file", "job_id", "job"), JOBS, ids=IDS)
def test_aws_jobs_are_serialized_per_environment(
    file: str, job_id: str, job: dict[str, Any]
) -> None:
    if not assumes_role(job):
        return
    group = job["concurrency"]["group"]
    deployment = file.removeprefix("servespec-").rsplit("-", 1)[0]
    environment = job_id.split("-", 1)[1]
    if file.endswith("-pr.yml"):
        assert group.startswith(f"servespec-{deployment}-{environment}-plan-")
        return
    # Deploy plan, apply and drift of one environment share one group, and none cancels
    # another: a cancelled apply can leave state locked and resources half-made.
    assert group == f"servespec-{deployment}-{environment}"
    assert job["concurrency"]["cancel-in-progress"] is False


@pytest.mark.parametrize("name", EXAMPLES)
def test_prod_waits_for_staging_and_ships_the_same_release(name: str) -> None:
    jobs = workflows(name)[f"servespec-{name}-deploy.yml"]["jobs"]
    assert jobs["apply-prod"]["needs"] == ["plan-prod", "build", "apply-staging"]
    assert jobs["apply-prod"]["environment"] == "prod"
    assert "needs.apply-staging.result == 'success'" in jobs["apply-prod"]["if"]
    for env in ("staging", "prod"):
        push = next(s for s in jobs[f"apply-{env}"]["steps"] if s["name"] == "Push the image")
        # One build, one digest, one tag (the commit) in every environment.
        assert push["env"] == {
            "IMAGE_TAG": "${{ github.sha }}",
            "IMAGE_DIGEST": "${{ needs.build.outputs.image_digest }}",
        }
        plan = next(s for s in jobs[f"plan-{env}"]["steps"] if s.get("id") == "plan")
        assert plan["env"]["IMAGE_TAG"] == "${{ github.sha }}"


@pytest.mark.parametrize("name", EXAMPLES)
def test_only_main_deploys(name: str) -> None:
    data = workflows(name)[f"servespec-{name}-deploy.yml"]
    assert data["on"]["push"]["branches"] == ["main"]
    for job_id, job in data["jobs"].items():
        if job_id.startswith("plan-"):
            assert job["if"] == "github.ref == 'refs/heads/main'"
        if job_id.startswith("apply-"):
            env = job_id.removeprefix("apply-")
            # Runs only when its own plan succeeded on main; the environment's branch
            # policy (github root) and the apply role's subject repeat the main-only rule.
            assert f"plan-{env}" in job["needs"]
            assert job["environment"] == env


@pytest.mark.parametrize(("file", "job_id", "job"), JOBS, ids=IDS)
def test_the_apply_role_is_assumed_only_in_an_environment(
    file: str, job_id: str, job: dict[str, Any]
) -> None:
    roles = [
        s["with"]["role-to-assume"]
        for s in steps_of(job)
        if s.get("uses") == actions.CONFIGURE_AWS.ref
    ]
    if any("_APPLY_ROLE_ARN" in role for role in roles):
        assert file.endswith("-deploy.yml") and job_id == f"apply-{job['environment']}"


@pytest.mark.parametrize(
    "spec", [s for n in EXAMPLES for s in environments(n)], ids=lambda s: s.source_path
)
def test_deploy_waits_out_the_bake_then_checks_alarms_and_can_roll_back(spec: ResolvedSpec) -> None:
    name = spec.metadata.name
    job = workflows(name)[f"servespec-{name}-deploy.yml"]["jobs"][f"apply-{spec.environment}"]
    by_name = {step["name"]: step for step in job["steps"]}
    wait = next(step for n, step in by_name.items() if n.startswith("Wait for the ECS rollout"))
    bake = 0 if spec.deployment.strategy == "rolling" else spec.deployment.bake_minutes
    assert int(wait["env"]["ROLLOUT_MINUTES"]) == bake + deploy.ROLLOUT_MARGIN
    assert job["timeout-minutes"] > int(wait["env"]["ROLLOUT_MINUTES"])
    assert "Check the deployment alarms" in by_name
    rollback = by_name.get("Roll back to the previous release")
    assert (rollback is not None) == spec.deployment.rollback_on_alarm
    if rollback:
        assert rollback["if"].startswith("failure()")
        assert list(by_name)[-1] == "Roll back to the previous release"


def test_the_examples_cover_a_baking_strategy() -> None:
    strategies = {s.deployment.strategy for n in EXAMPLES for s in environments(n)}
    assert strategies & {"canary", "blue-green"}


@pytest.mark.parametrize(("file", "job_id", "job"), JOBS, ids=IDS)
def test_caches_only_in_pull_requests(file: str, job_id: str, job: dict[str, Any]) -> None:
    # A cache written by a pull request must never feed what deploys (cache poisoning).
    cached = actions.CACHE.ref in uses(job) or any(
        "cache" in step.get("with", {}) for step in steps_of(job)
    )
    if not file.endswith("-pr.yml"):
        assert not cached
