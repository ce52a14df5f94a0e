"""Deploy-workflow decisions that the example specs alone do not exercise."""

from __future__ import annotations

from typing import Any

from compiler.workflows import deploy

from .helpers import environments, with_value


def steps_by_name(job: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {step["name"]: step for step in job["steps"]}


def test_a_shared_model_is_built_once_and_promoted() -> None:
    envs = environments("assistant")
    assert deploy.model_builds(envs) == {"staging": "staging", "prod": "staging"}
    jobs = deploy.build(envs)["jobs"]
    choose = steps_by_name(jobs["deploy-prod"])["Choose the release"]
    assert choose["env"]["MODEL_SHA256"] == "${{ needs.deploy-staging.outputs.model_sha256 }}"


def test_an_environment_with_its_own_model_gets_its_own_build() -> None:
    staging, prod = environments("assistant")
    prod = with_value(prod, "model.version", "2026-12-01")
    envs = (staging, prod)
    assert deploy.model_builds(envs) == {"staging": "staging", "prod": "prod"}
    jobs = deploy.build(envs)["jobs"]
    script = steps_by_name(jobs["build"])["Build the model artifact"]["run"]
    assert "--env staging --out release/model-staging" in script
    assert "--env prod --out release/model-prod" in script
    assert set(jobs["build"]["outputs"]) >= {"model_sha256_staging", "model_sha256_prod"}
    prod_steps = steps_by_name(jobs["deploy-prod"])
    assert prod_steps["Choose the release"]["env"]["MODEL_SHA256"] == (
        "${{ needs.build.outputs.model_sha256_prod }}"
    )
    assert prod_steps["Push the model artifact"]["env"]["ARTIFACT"] == "release/model-prod"
    # The image is still the one staging proved.
    assert prod_steps["Choose the release"]["env"]["IMAGE_TAG"] == (
        "${{ needs.deploy-staging.outputs.image_tag }}"
    )


def test_arm64_builds_on_an_arm_runner() -> None:
    staging, prod = environments("assistant")
    envs = tuple(with_value(s, "compute.architecture", "arm64") for s in (staging, prod))
    build = deploy.build(envs)["jobs"]["build"]
    assert build["runs-on"] == "ubuntu-24.04-arm"
    assert "--platform linux/arm64" in steps_by_name(build)["Build the runtime image"]["run"]


def test_no_automatic_rollback_when_the_spec_says_so() -> None:
    staging, prod = environments("assistant")
    prod = with_value(prod, "deployment.rollback_on_alarm", False)
    jobs = deploy.build((staging, prod))["jobs"]
    assert "Roll back to the previous release" not in steps_by_name(jobs["deploy-prod"])
    assert "Roll back to the previous release" in steps_by_name(jobs["deploy-staging"])
