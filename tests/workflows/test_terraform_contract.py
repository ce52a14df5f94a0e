"""What the generated workflows assume about the generated Terraform, checked against it.

The two emitters do not import each other; this test is where their shared names meet: the
root module directory, the `image_tag` variable, the outputs the deploy job reads, the alarm
name prefix, the bootstrap's role outputs and the OIDC subjects those roles trust.
"""

from __future__ import annotations

import re

import pytest

from compiler import terraform
from compiler.spec import ResolvedSpec
from compiler.workflows import names

from .helpers import EXAMPLES, environments

CASES = [(name, spec) for name in EXAMPLES for spec in environments(name)]
IDS = [f"{name}-{spec.environment}" for name, spec in CASES]


def module_text(spec: ResolvedSpec, envs: tuple[ResolvedSpec, ...]) -> str:
    folder = terraform.env_dir(spec) + "/"
    return "\n".join(a.content for a in terraform.emit(envs) if a.path.startswith(folder))


def bootstrap_text(envs: tuple[ResolvedSpec, ...]) -> str:
    folder = terraform.bootstrap_dir(envs[0]) + "/"
    return "\n".join(a.content for a in terraform.emit(envs) if a.path.startswith(folder))


def role_subjects(bootstrap: str, label: str) -> list[str]:
    block = bootstrap[bootstrap.index(f'resource "aws_iam_role" "{label}"') :]
    block = block[: block.index("\nresource ", 1)]
    found = re.search(r'githubusercontent\.com:sub" = \[([^\]]*)\]', block)
    assert found, f"no sub condition in {label}"
    return re.findall(r'"([^"]+)"', found[1])


@pytest.mark.parametrize(("name", "spec"), CASES, ids=IDS)
def test_same_root_module_directory(name: str, spec: ResolvedSpec) -> None:
    assert names.terraform_dir(spec) == terraform.env_dir(spec)


@pytest.mark.parametrize(("name", "spec"), CASES, ids=IDS)
def test_variables_and_outputs_the_deploy_job_uses(name: str, spec: ResolvedSpec) -> None:
    text = module_text(spec, environments(name))
    assert 'variable "image_tag"' in text
    assert "${var.image_tag}" in text
    wanted = ["api_url", "load_balancer_dns_name", "ecr_repository_url", "cluster_name"]
    wanted += ["service_names"] + (
        ["api_keys_secret_arn"] if spec.serving.auth == "api_key" else []
    )
    for output in wanted:
        assert f'output "{output}"' in text
    # The first deploy creates just the repository with -target before pushing to it.
    assert 'resource "aws_ecr_repository" "runtime"' in text
    assert 'resource "aws_ecr_lifecycle_policy" "runtime"' in text
    # READ_DEPLOYED_TAG finds the tag in the task definitions' container images.
    assert 'resource "aws_ecs_task_definition"' in text


@pytest.mark.parametrize(("name", "spec"), CASES, ids=IDS)
def test_alarm_prefix(name: str, spec: ResolvedSpec) -> None:
    text = module_text(spec, environments(name))
    assert re.search(rf'\bname\s+=\s+"{spec.metadata.name}-{spec.environment}"', text)
    alarms = re.findall(r'alarm_name\s*=\s*"([^"]+)"', text)
    assert alarms and all(a.startswith("${local.name}-") for a in alarms)


@pytest.mark.parametrize(("name", "spec"), CASES, ids=IDS)
def test_bootstrap_outputs_the_role_variables(name: str, spec: ResolvedSpec) -> None:
    bootstrap = bootstrap_text(environments(name))
    for role in ("plan", "apply"):
        assert f'output "{spec.environment}_{role}_role_arn"' in bootstrap
        assert names.role_variable(spec, role.upper()).endswith(f"_{role.upper()}_ROLE_ARN")


@pytest.mark.parametrize(("name", "spec"), CASES, ids=IDS)
def test_roles_trust_the_jobs_that_assume_them(name: str, spec: ResolvedSpec) -> None:
    bootstrap = bootstrap_text(environments(name))
    repo = f"repo:{spec.metadata.repository}"
    # PR plan jobs name no environment; deploy jobs run in the GitHub environment.
    # Exact lists: an extra subject is extra trust.
    assert sorted(role_subjects(bootstrap, f"{spec.environment}_plan")) == sorted(
        [f"{repo}:pull_request", f"{repo}:ref:refs/heads/main"]
    )
    assert role_subjects(bootstrap, f"{spec.environment}_apply") == [
        f"{repo}:environment:{spec.environment}"
    ]


@pytest.mark.parametrize(("name", "spec"), CASES, ids=IDS)
def test_plan_role_trusts_drift_runs_on_main(name: str, spec: ResolvedSpec) -> None:
    bootstrap = bootstrap_text(environments(name))
    subjects = role_subjects(bootstrap, f"{spec.environment}_plan")
    assert f"repo:{spec.metadata.repository}:ref:refs/heads/main" in subjects


@pytest.mark.parametrize(("name", "spec"), CASES, ids=IDS)
def test_first_deploy_targets_exist(name: str, spec: ResolvedSpec) -> None:
    from compiler.workflows.deploy import create_first

    module = module_text(spec, environments(name))
    for target in re.findall(r"-target=(\S+)", create_first(spec)):
        kind, label = target.split(".")
        assert f'resource "{kind}" "{label}"' in module, target
