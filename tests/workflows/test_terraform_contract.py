"""What the generated workflows assume about the generated Terraform, checked against it.

The two emitters do not import each other; this test is where their shared names meet: the
root module directory, the `image_tag` variable, the outputs the deploy job reads, the alarm
name prefix, the bootstrap's role outputs and the OIDC subjects those roles trust.
"""

from __future__ import annotations

import fnmatch
import re
from typing import Any

import pytest

from compiler import terraform
from compiler.spec import ResolvedSpec
from compiler.terraform import github
from compiler.workflows import deploy_scripts, names

from .helpers import EXAMPLES, environments, workflows

CASES = [(name, spec) for name in EXAMPLES for spec in environments(name)]
IDS = [f"{name}-{spec.environment}" for name, spec in CASES]


def module_text(spec: ResolvedSpec, envs: tuple[ResolvedSpec, ...]) -> str:
    folder = terraform.env_dir(spec) + "/"
    return "\n".join(a.content for a in terraform.emit(envs) if a.path.startswith(folder))


def bootstrap_text(envs: tuple[ResolvedSpec, ...]) -> str:
    # One bootstrap per account: every environment's roles, wherever they live.
    folders = tuple({terraform.bootstrap_dir(spec) + "/" for spec in envs})
    return "\n".join(a.content for a in terraform.emit(envs) if a.path.startswith(folders))


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


def workflow_ref(spec: ResolvedSpec, kind: str, ref: str) -> str:
    repo = spec.metadata.repository
    return (
        f"job_workflow_ref:{repo}/.github/workflows/servespec-{spec.metadata.name}-{kind}.yml@{ref}"
    )


@pytest.mark.parametrize(("name", "spec"), CASES, ids=IDS)
def test_roles_trust_the_jobs_that_assume_them(name: str, spec: ResolvedSpec) -> None:
    bootstrap = bootstrap_text(environments(name))
    repo = f"repo:{spec.metadata.repository}"
    main = "refs/heads/main"
    # Exact lists: an extra subject is extra trust. Each names the workflow file.
    assert role_subjects(bootstrap, f"{spec.environment}_plan") == [
        f"{repo}:pull_request:{workflow_ref(spec, 'pr', 'refs/pull/*/merge')}",
        f"{repo}:ref:{main}:{workflow_ref(spec, 'drift', main)}",
        f"{repo}:ref:{main}:{workflow_ref(spec, 'deploy', main)}",
    ]
    assert role_subjects(bootstrap, f"{spec.environment}_apply") == [
        f"{repo}:environment:{spec.environment}:{workflow_ref(spec, 'deploy', main)}"
    ]


def subject(spec: ResolvedSpec, file: str, job: dict[str, Any], trigger: str) -> str:
    """The `sub` GitHub puts in this job's token under the template github.py sets."""
    repo = spec.metadata.repository
    if trigger == "pull_request":
        context, ref = "pull_request", "refs/pull/7/merge"
    else:
        ref = "refs/heads/main"
        context = f"environment:{job['environment']}" if "environment" in job else f"ref:{ref}"
    return f"repo:{repo}:{context}:job_workflow_ref:{repo}/.github/workflows/{file}@{ref}"


@pytest.mark.parametrize(("name", "spec"), CASES, ids=IDS)
def test_every_role_assuming_job_matches_exactly_its_roles_trust(
    name: str, spec: ResolvedSpec
) -> None:
    envs = environments(name)
    bootstrap = bootstrap_text(envs)
    template = "\n".join(a.content for a in github.emit(envs) if a.path.endswith("repository.tf"))
    assert 'include_claim_keys = ["repo", "context", "job_workflow_ref"]' in template
    trusted = {
        role: role_subjects(bootstrap, f"{spec.environment}_{role.lower()}")
        for role in ("PLAN", "APPLY")
    }
    checked = 0
    for file, data in workflows(name).items():
        trigger = "pull_request" if "pull_request" in data["on"] else "push"
        for job in data["jobs"].values():
            for step in job["steps"]:
                given = step.get("with", {}).get("role-to-assume", "")
                for role, subjects in trusted.items():
                    if given == "${{ vars." + names.role_variable(spec, role) + " }}":
                        sub = subject(spec, file, job, trigger)
                        assert any(fnmatch.fnmatchcase(sub, p) for p in subjects), (file, sub)
                        checked += 1
    assert checked >= 4


@pytest.mark.parametrize(("name", "spec"), CASES, ids=IDS)
def test_first_deploy_targets_exist(name: str, spec: ResolvedSpec) -> None:
    module = module_text(spec, environments(name))
    targets = deploy_scripts.FOUNDATION_TARGETS
    if spec.dr.strategy != "none":
        targets += deploy_scripts.DR_FOUNDATION_TARGETS
    for target in targets:
        kind, label = target.split(".")
        assert f'resource "{kind}" "{label}"' in module, target
