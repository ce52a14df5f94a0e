"""The secondary region's service is the primary's, placed in another region.

Its log groups, ECS cluster, task definition, service, scaling and alarms (the load
balancer's, the runtime metrics' and the service's) must equal the primary's
(serving variant's) once the region is normalised away: the provider, the labels and names
(`secondary`, `-dr`), and the region-scoped addresses (its key, subnets, security group,
listener, model replica, secret replica, registry, capture bucket). What may differ is plan.Fleet's:
capacity (the DR strategy's), and for primaries that are not like the secondary (EC2, blue/
green, A/B variants) the spec is first made like it. A builder that grows a branch for one
region, or a secondary built by hand again (how dr_service.py drifted: no queue or request
scaling, other role statements), fails here.
"""

from __future__ import annotations

import re
from typing import Any

import pygohcl
import pytest

from compiler.spec import ResolvedSpec, load_spec
from compiler.terraform.hcl import Block, render
from compiler.terraform.plan import (
    fargate_memory,
    log_group_prefix,
    plan,
    secondary_fleet,
    serving_variant,
)
from compiler.terraform.stack import FILES, iam

from .support import EXAMPLES, ROOT, environments

KINDS = {
    "aws_cloudwatch_log_group",
    "aws_ecs_cluster",
    "aws_ecs_cluster_capacity_providers",
    "aws_ecs_task_definition",
    "aws_ecs_service",
    "aws_appautoscaling_target",
    "aws_appautoscaling_policy",
    "aws_cloudwatch_metric_alarm",
}
REGION_LEVEL = {"aws_ecs_cluster", "aws_ecs_cluster_capacity_providers", "aws_lb"}
LOG_GROUPS = {"runtime", "ecs_exec"}  # the service's; others are other views' business
# Labelled `<primary's>_secondary` (log groups, alarms) and named `<name>-dr-...`.
SUFFIXED = {"aws_cloudwatch_log_group", "aws_cloudwatch_metric_alarm"}
# Region-scoped addresses: the secondary's -> the primary's.
ADDRESSES = {
    "aws_kms_replica_key.secondary.arn": "aws_kms_key.main.arn",
    "aws_kms_key.secondary.arn": "aws_kms_key.main.arn",
    "aws_subnet.secondary_private[*].id": "local.private_subnet_ids",
    "aws_security_group.secondary_tasks.id": "aws_security_group.tasks.id",
    "aws_lb_listener.secondary_https": "aws_lb_listener_rule.api",
    "-models-dr-": "-models-",
    "-capture-dr-": "-capture-",
}
SECRET_REPLICA = re.compile(
    r'replace\((aws_secretsmanager_secret\.api_keys\.arn), "[^"]*", "[^"]*"\)'
)
SECONDARY_ADDRESS = re.compile(r"\b(aws_[a-z0-9_]+)\.secondary\b")
SUFFIXED_ADDRESS = re.compile(r"\b(aws_[a-z0-9_]+\.[a-z0-9_]+)_secondary\b")


def like_the_secondary(spec: ResolvedSpec) -> ResolvedSpec:
    """The spec with the primary made like the secondary (plan.Fleet): Fargate, rolling,
    one service of the serving variant's model."""
    compute = spec.compute
    variant = serving_variant(spec)
    return spec.model_copy(
        update={
            "compute": compute.model_copy(
                update={
                    "platform": "fargate",
                    "gpu": None,
                    "instance_type": None,
                    "memory_mib": fargate_memory(compute.cpu, compute.memory_mib),
                }
            ),
            "deployment": spec.deployment.model_copy(update={"strategy": "rolling"}),
            "variants": [],
            "model": spec.model.model_copy(update={"version": variant.model_version}),
        }
    )


def _cases() -> list[ResolvedSpec]:
    found = [like_the_secondary(s) for e in EXAMPLES for s in environments(e)]
    # DR cases as they are: their primaries are already like their secondaries.
    for case in sorted((ROOT / "tests" / "cases").glob("dr-*/spec.yaml")):
        found += load_spec(case).environments
    return [spec for spec in found if secondary_fleet(spec) is not None]


CASES = _cases()


def _walk(value: Any, change: Any) -> Any:
    if isinstance(value, str):
        return change(value)
    if isinstance(value, dict):
        return {key: _walk(item, change) for key, item in value.items() if key != "provider"}
    if isinstance(value, list):
        return [_walk(item, change) for item in value]
    return value


def _to_primary(spec: ResolvedSpec, kind: str, key: str) -> Any:
    """A string of the secondary's block, said as the primary's."""
    assert spec.dr.secondary_region is not None
    # pygohcl reads "${local.name}-dr" as "local.name-dr"; jsonencode(...) keeps its text.
    suffix = "" if kind in REGION_LEVEL | SUFFIXED else f"-{key}"

    def change(text: str) -> str:
        text = SECRET_REPLICA.sub(r"\1", text)
        for theirs, ours in ADDRESSES.items():
            text = text.replace(theirs, ours)
        text = SECONDARY_ADDRESS.sub(
            lambda m: f"{m[1]}.{'main' if m[1] in REGION_LEVEL else key}", text
        )
        text = SUFFIXED_ADDRESS.sub(r"\1", text)
        text = text.replace("local.name-dr", f"local.name{suffix}")
        text = text.replace("${local.name}-dr", f"${{local.name}}{suffix}")
        return text.replace(str(spec.dr.secondary_region), spec.region)

    return change


def _parsed(block: Block) -> Any:
    return pygohcl.loads(render([block]))["resource"][block.labels[0]][block.labels[1]]


def _capacity(kind: str, body: dict[str, Any]) -> tuple[Any, ...]:
    """Pop the capacity attributes (plan.Fleet's difference) and return them."""
    keys = {"aws_ecs_service": ("desired_count",)}.get(
        kind, ("min_capacity", "max_capacity") if kind == "aws_appautoscaling_target" else ()
    )
    return tuple(body.pop(k) for k in keys)


def _blocks(spec: ResolvedSpec) -> dict[tuple[str, str], Block]:
    return {
        (b.labels[0], b.labels[1]): b
        for _, view in FILES
        for b in view(plan(spec))
        if b.type == "resource" and b.labels[0] in KINDS
    }


def _pairs(spec: ResolvedSpec) -> list[tuple[Block, Block]]:
    """(primary, secondary) block pairs of the service's resources."""
    blocks = _blocks(spec)
    key = serving_variant(spec).key
    pairs = []
    for (kind, label), block in blocks.items():
        if kind in SUFFIXED:
            base = label.removesuffix("_secondary")
            log_group = kind == "aws_cloudwatch_log_group"
            # (The secondary's own alarms, capture replication's, have no primary twin.)
            if (kind, base) in blocks and base != label and (base in LOG_GROUPS or not log_group):
                pairs.append((blocks[(kind, base)], block))
            continue
        if label == "secondary" or label.startswith("secondary_"):
            mine = "main" if kind in REGION_LEVEL else key + label.removeprefix("secondary")
            pairs.append((blocks[(kind, mine)], block))
    return pairs


@pytest.mark.parametrize("spec", CASES, ids=lambda s: f"{s.metadata.name}-{s.environment}")
def test_the_secondary_service_is_the_primarys(spec: ResolvedSpec) -> None:
    fleet = secondary_fleet(spec)
    assert fleet is not None
    key = serving_variant(spec).key
    pairs = _pairs(spec)
    # Every block of the primary's serving variant (and its cluster) has its secondary.
    paired = {primary.address for primary, _ in pairs}
    wanted = {
        block.address
        for (kind, label), block in _blocks(spec).items()
        if not label.endswith("_secondary")
        and (label in {"main", key} | LOG_GROUPS or label.startswith(f"{key}_"))
    }
    assert sorted(wanted - paired) == []
    assert {primary.labels[0] for primary, _ in pairs} == KINDS
    for primary, secondary in pairs:
        kind = primary.labels[0]
        ours = _parsed(primary)
        theirs = _walk(_parsed(secondary), _to_primary(spec, kind, key))
        _capacity(kind, ours)
        found = _capacity(kind, theirs)
        assert found in {(), (fleet.capacity.desired,), (fleet.capacity.min, fleet.capacity.max)}
        assert theirs == ours, f"{secondary.address} differs from {primary.address}"


def test_some_case_normalises_a_primary_unlike_its_secondary() -> None:
    """The examples exercise EC2, blue/green and variants in the primary: the parity above
    covers them through like_the_secondary, and at least one case compares as emitted."""
    names = {f"{s.metadata.name}-{s.environment}" for s in CASES}
    assert {"clinical-notes-prod", "assistant-prod", "dr-active-active-prod"} <= names


@pytest.mark.parametrize(
    ("example", "index"), [(e, i) for e in EXAMPLES for i in range(len(environments(e)))]
)
def test_the_secondary_differs_only_as_the_fleet_says(example: str, index: int) -> None:
    """As emitted (not normalised): one Fargate service, rolling, no GPUs, the DR capacity."""
    spec = environments(example)[index]
    fleet = secondary_fleet(spec)
    blocks = _blocks(spec)
    services = [label for kind, label in blocks if kind == "aws_ecs_service"]
    if fleet is None:
        assert "secondary" not in services
        return
    service = _parsed(blocks[("aws_ecs_service", "secondary")])
    assert service["capacity_provider_strategy"]["capacity_provider"] == "FARGATE"
    assert service["deployment_configuration"] == {"strategy": "ROLLING"}
    assert "advanced_configuration" not in service["load_balancer"]
    assert service["desired_count"] == fleet.capacity.desired
    task = _parsed(blocks[("aws_ecs_task_definition", "secondary")])
    assert task["requires_compatibilities"] == ["FARGATE"]
    assert task["memory"] == str(fleet.memory_mib)
    assert "GPU" not in task["container_definitions"]


@pytest.mark.parametrize("spec", CASES, ids=lambda s: f"{s.metadata.name}-{s.environment}")
def test_both_regions_tasks_assume_one_pair_of_roles(spec: ResolvedSpec) -> None:
    """IAM is global: the secondary's tasks assume the primary's roles (so a permission
    added to the task, such as capture writes, reaches both), and the roles' statements
    name the secondary's own registry, log group, model replica and key."""
    blocks = _blocks(spec)
    main = _parsed(blocks[("aws_ecs_task_definition", serving_variant(spec).key)])
    standby = _parsed(blocks[("aws_ecs_task_definition", "secondary")])
    for role in ("execution_role_arn", "task_role_arn"):
        assert standby[role] == main[role]
    policies = render([b for b in iam.blocks(plan(spec)) if b.labels[0] == "aws_iam_role_policy"])
    there = str(spec.dr.secondary_region)
    for wanted in (
        f":ecr:{there}:${{local.account_id}}:repository/${{local.name}}",
        f":logs:{there}:${{local.account_id}}:log-group:{log_group_prefix(spec)}/runtime:",
        "${local.name}-models-dr-${local.account_id}/models/",
        "Resource = aws_kms_",
    ):
        assert wanted in policies, wanted
