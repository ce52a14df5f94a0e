"""dr.tf: each DR strategy builds the secondary region it promises, and nothing more."""

from __future__ import annotations

from typing import Any

import pytest

from compiler.spec import ResolvedSpec
from compiler.terraform.hcl import Block, Expr, Ref, render
from compiler.terraform.plan import fargate_memory, plan
from compiler.terraform.stack import FILES, common, dr, network, network_plan

from .support import environments


def assistant_prod() -> ResolvedSpec:
    return environments("assistant")[1]


def clinical_prod() -> ResolvedSpec:
    return environments("clinical-notes")[1]


def with_strategy(spec: ResolvedSpec, strategy: str, **backups: Any) -> ResolvedSpec:
    update: dict[str, Any] = {"dr": spec.dr.model_copy(update={"strategy": strategy})}
    if backups:
        update["backups"] = spec.backups.model_copy(update=backups)
    return spec.model_copy(update=update)


def stack(spec: ResolvedSpec) -> list[Block]:
    """Every view's blocks: the secondary's service, scaling and roles are built by the
    primary's views (compute.tf, scaling.tf, iam.tf), not dr.tf."""
    return [block for _, view in FILES for block in view(plan(spec))]


def find(blocks: list[Block], kind: str, label: str | None = None) -> list[Block]:
    return [
        b
        for b in blocks
        if b.type == "resource" and b.labels[0] == kind and label in (None, b.labels[1])
    ]


def one(blocks: list[Block], kind: str, label: str) -> Block:
    found = find(blocks, kind, label)
    assert len(found) == 1, f"{kind}.{label}: {len(found)} blocks"
    return found[0]


def nested(block: Block, *path: str) -> Block:
    for name in path:
        block = next(b for b in block.body if isinstance(b, Block) and b.type == name)
    return block


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        ("pilot-light", (0, 0, 0)),
        ("warm-standby", (2, 2, 2)),  # the spec's minimum, held
        ("active-active", (2, 2, 6)),  # the primary's whole range
    ],
)
def test_secondary_capacity_follows_the_strategy(strategy: str, expected: tuple[int, ...]) -> None:
    spec = with_strategy(assistant_prod(), strategy)
    blocks = stack(spec)
    service = one(blocks, "aws_ecs_service", "secondary")
    target = one(blocks, "aws_appautoscaling_target", "secondary")
    found = (
        service.attribute("desired_count"),
        target.attribute("min_capacity"),
        target.attribute("max_capacity"),
    )
    assert found == expected
    assert service.attribute("provider") == dr.SECONDARY


def test_active_active_carries_every_variant() -> None:
    spec = clinical_prod()  # active-active, two variants, scaling 3..12 each
    target = one(stack(spec), "aws_appautoscaling_target", "secondary")
    assert (target.attribute("min_capacity"), target.attribute("max_capacity")) == (6, 24)


@pytest.mark.parametrize("strategy", ["backup-restore", "none"])
def test_no_secondary_compute_without_a_running_strategy(strategy: str) -> None:
    blocks = stack(with_strategy(assistant_prod(), strategy))
    for kind in ("aws_ecs_service", "aws_lb", "aws_vpc", "aws_ecs_cluster"):
        assert find(blocks, kind, "secondary") == [], kind


def test_backup_restore_still_replicates_data() -> None:
    blocks = dr.blocks(plan(with_strategy(assistant_prod(), "backup-restore")))
    labels = {b.labels[1] for b in find(blocks, "aws_s3_bucket_replication_configuration")}
    assert labels == {"models", "audit"}
    # The registry's replication rule is the account root's; the target repository is ours.
    assert [b.labels[1] for b in find(blocks, "aws_ecr_repository")] == ["runtime_secondary"]
    assert find(blocks, "aws_ecr_replication_configuration") == []


def test_no_dr_and_no_copy_means_no_secondary_region() -> None:
    spec = with_strategy(assistant_prod(), "none", copy_to_secondary=False)
    assert dr.blocks(plan(spec)) == []


def test_no_dr_but_backup_copies_keep_only_the_key() -> None:
    spec = with_strategy(assistant_prod(), "none", copy_to_secondary=True)
    kinds = {b.labels[0] for b in dr.blocks(plan(spec))}
    assert kinds == {"aws_kms_replica_key", "aws_kms_alias"}  # the key and its alias there


@pytest.mark.parametrize(
    ("example", "index", "key"),
    [
        ("assistant", 0, "aws_kms_key"),  # staging: single-Region key
        ("assistant", 1, "aws_kms_replica_key"),  # prod: multi-Region key
        ("clinical-notes", 0, "aws_kms_replica_key"),
    ],
)
def test_replicas_are_encrypted_with_the_secondary_key(example: str, index: int, key: str) -> None:
    spec = environments(example)[index]
    blocks = dr.blocks(plan(spec))
    assert len(find(blocks, key, "secondary")) == 1
    wanted = Ref(f"{key}.secondary.arn")
    for config in find(blocks, "aws_s3_bucket_replication_configuration"):
        encryption = nested(config, "rule", "destination", "encryption_configuration")
        # Capture records replicate the other way, into the primary (capture.py).
        into_primary = config.labels[1] == "capture_secondary"
        expected = Ref("aws_kms_key.main.arn") if into_primary else wanted
        assert encryption.attribute("replica_kms_key_id") == expected
        criteria = nested(config, "rule", "source_selection_criteria", "sse_kms_encrypted_objects")
        assert criteria.attribute("status") == "Enabled"
    assert dr.secondary_key_arn(spec) == wanted


@pytest.mark.parametrize(("rpo", "rtc"), [(5, True), (60, True), (61, False), (1440, False)])
def test_replication_time_control_iff_rpo_within_an_hour(rpo: int, rtc: bool) -> None:
    base = assistant_prod()
    spec = base.model_copy(update={"dr": base.dr.model_copy(update={"rpo_minutes": rpo})})
    config = one(dr.blocks(plan(spec)), "aws_s3_bucket_replication_configuration", "models")
    destination = nested(config, "rule", "destination")
    names = {b.type for b in destination.body if isinstance(b, Block)}
    assert ("replication_time" in names) is rtc
    assert "metrics" in names  # the failed-replication alarm needs them either way


# Resources that are global (IAM), or configured from the primary region on purpose.
PRIMARY_SIDE = {
    "aws_iam_role",
    "aws_iam_role_policy",
    "aws_s3_bucket_replication_configuration",  # on the source bucket
    "aws_cloudwatch_metric_alarm",  # replication metrics are the source region's
    "aws_route53_record",  # Route 53 is global
}


@pytest.mark.parametrize("example", ["assistant", "clinical-notes"])
def test_secondary_resources_use_the_secondary_provider(example: str) -> None:
    for spec in environments(example):
        for block in dr.blocks(plan(spec)):
            if (
                block.labels[0] in PRIMARY_SIDE
                or block.address == "data.aws_ip_ranges.route53_healthchecks"
            ):
                continue  # the IP ranges document is global
            assert block.attribute("provider") == dr.SECONDARY, block.address


def test_secondary_serves_the_heaviest_variant_from_the_replica() -> None:
    spec = clinical_prod()  # current 90 %, candidate 10 %
    assert dr.serving_variant(spec).key == "current"
    task = one(stack(spec), "aws_ecs_task_definition", "secondary")
    text = render([task])
    assert "-models-dr-${local.account_id}/models/clinical-notes-llm/2026-11-01/" in text
    assert ".dkr.ecr.us-west-2.amazonaws.com/" in text
    assert '"awslogs-region" = "us-west-2"' in text or "us-west-2" in text
    assert "GPU" not in text  # Fargate in the secondary region


def test_secondary_vpc_follows_the_primary_block() -> None:
    spec = clinical_prod()  # 10.60.0.0/16
    assert dr.secondary_vpc_cidr(spec) == "10.61.0.0/16"
    private, public = network_plan.subnet_cidrs(dr.secondary_vpc_cidr(spec), 2)
    assert network_plan.secondary(spec).private_cidr == Expr(
        '["10.61.0.0/20", "10.61.16.0/20"][count.index]'
    )
    assert private == ["10.61.0.0/20", "10.61.16.0/20"]
    assert public == ["10.61.254.0/24", "10.61.255.0/24"]


@pytest.mark.parametrize(
    ("cpu", "memory", "expected"),
    [
        (4096, 15360, 15360),
        (1024, 1000, 2048),
        (512, 9000, 4096),
        (2048, 5000, 5120),
        # 8 and 16 vCPU take 4 and 8 GiB steps; 0.25 vCPU has no 1.5 GiB.
        (8192, 17000, 20480),
        (16384, 34000, 40960),
        (256, 1536, 2048),
    ],
)
def test_fargate_memory_is_moved_into_range(cpu: int, memory: int, expected: int) -> None:
    assert fargate_memory(cpu, memory) == expected


def test_restricted_clients_admit_route53_health_checkers() -> None:
    blocks = dr.blocks(plan(clinical_prod()))  # allowed_cidrs: two client networks
    rules = find(blocks, "aws_vpc_security_group_ingress_rule")
    https = [r for r in rules if r.labels[1].startswith("secondary_alb_https_")]
    assert [r.attribute("cidr_ipv4") for r in https] == ["203.0.113.0/24", "198.51.100.0/24"]
    assert [r.labels[1] for r in https] == [
        "secondary_alb_https_203_0_113_0_24",
        "secondary_alb_https_198_51_100_0_24",
    ]
    checkers = one(blocks, "aws_vpc_security_group_ingress_rule", "secondary_alb_health_checkers")
    assert checkers.attribute("cidr_ipv4") == Expr("each.value")
    # The primary is judged by an alarm when clients are restricted (dns.py): no checkers.
    primary = network.blocks(plan(clinical_prod()))
    assert find(primary, "aws_vpc_security_group_ingress_rule", "alb_health_checkers") == []


def test_dr_blocks_are_deterministic() -> None:
    for example in ("assistant", "clinical-notes"):
        for spec in environments(example):
            assert render(dr.blocks(plan(spec))) == render(dr.blocks(plan(spec)))


def test_names_come_from_the_core_stack() -> None:
    spec = assistant_prod()
    assert dr.secondary_elb_name(spec) == f"{common.name(spec)}-dr"
    long = spec.model_copy(
        update={"metadata": spec.metadata.model_copy(update={"name": "a-very-long-deployment"})}
    )
    assert len(dr.secondary_elb_name(long)) <= 32


def test_the_api_keys_exist_in_the_secondary_region() -> None:
    """Secondary tasks read the API-key secret's replica: same keys in both regions."""
    from compiler.terraform.stack import secrets

    spec = clinical_prod()
    secret = one(secrets.blocks(plan(spec)), "aws_secretsmanager_secret", "api_keys")
    replicas = [b for b in secret.body if isinstance(b, Block) and b.type == "replica"]
    assert replicas, "the API-key secret must be replicated to dr.secondary_region"
    assert replicas[0].attribute("region") == spec.dr.secondary_region
    assert replicas[0].attribute("kms_key_id") == dr.secondary_key_arn(spec)
