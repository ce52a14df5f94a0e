"""dns.tf: health checks on both regions; failover or latency records with a hosted zone."""

from __future__ import annotations

from typing import Any

import pytest

from compiler.spec import ResolvedSpec
from compiler.terraform.hcl import Block, Ref
from compiler.terraform.plan import plan
from compiler.terraform.stack import dns, load_balancer, region

from .support import environments

ZONE = "Z0123456789ABCDEFGHIJ"


def resources(blocks: list[Block], kind: str) -> dict[str, Block]:
    return {b.labels[1]: b for b in blocks if b.type == "resource" and b.labels[0] == kind}


def children(block: Block, kind: str) -> list[Block]:
    return [b for b in block.body if isinstance(b, Block) and b.type == kind]


def variant(
    spec: ResolvedSpec, strategy: str, zone: str | None, cidrs: list[str] | None = None
) -> ResolvedSpec:
    tls = spec.security.tls.model_copy(update={"hosted_zone_id": zone})
    update: dict[str, Any] = {"tls": tls}
    if cidrs is not None:
        update["network"] = spec.security.network.model_copy(update={"allowed_cidrs": cidrs})
    return spec.model_copy(
        update={
            "dr": spec.dr.model_copy(update={"strategy": strategy}),
            "security": spec.security.model_copy(update=update),
        }
    )


@pytest.mark.parametrize("strategy", ["pilot-light", "warm-standby"])
def test_standby_strategies_get_failover_records(strategy: str) -> None:
    spec = variant(environments("assistant")[1], strategy, ZONE)
    records = resources(dns.blocks(plan(spec)), "aws_route53_record")
    assert set(records) == {"api_primary", "api_secondary"}
    for role, record in records.items():
        kind = role.removeprefix("api_").upper()
        policy = children(record, "failover_routing_policy")[0]
        assert policy.attribute("type") == kind
        assert children(record, "latency_routing_policy") == []
        assert record.attribute("name") == spec.security.tls.domain
        assert record.attribute("health_check_id") == Ref(
            f"aws_route53_health_check.{role.removeprefix('api_')}.id"
        )
    alias = children(records["api_secondary"], "alias")[0]
    assert alias.attribute("name") == Ref("aws_lb.secondary.dns_name")


def test_active_active_gets_latency_records() -> None:
    spec = environments("clinical-notes")[1]
    records = resources(dns.blocks(plan(spec)), "aws_route53_record")
    regions = {
        role: children(record, "latency_routing_policy")[0].attribute("region")
        for role, record in records.items()
    }
    assert regions == {"api_primary": "us-east-1", "api_secondary": "us-west-2"}
    assert all(children(r, "failover_routing_policy") == [] for r in records.values())
    assert dns.routing(spec) == "latency"


def test_without_a_hosted_zone_only_health_checks() -> None:
    spec = environments("assistant")[1]  # warm-standby, no zone
    blocks = dns.blocks(plan(spec))
    assert resources(blocks, "aws_route53_record") == {}
    assert set(resources(blocks, "aws_route53_health_check")) == {"primary", "secondary"}
    assert not dns.routes_api(spec)


@pytest.mark.parametrize("strategy", ["backup-restore", "none"])
def test_no_secondary_service_no_dns(strategy: str) -> None:
    assert dns.blocks(plan(variant(environments("assistant")[1], strategy, ZONE))) == []


def test_open_primary_is_probed_over_https() -> None:
    spec = variant(environments("assistant")[1], "warm-standby", ZONE)
    checks = resources(dns.blocks(plan(spec)), "aws_route53_health_check")
    for role, lb in (("primary", "aws_lb.main"), ("secondary", "aws_lb.secondary")):
        assert checks[role].attribute("type") == "HTTPS"
        assert checks[role].attribute("fqdn") == Ref(f"{lb}.dns_name")
        assert checks[role].attribute("resource_path") == "/readyz"


def test_restricted_primary_is_judged_by_its_healthy_targets() -> None:
    spec = environments("clinical-notes")[1]  # allowed_cidrs excludes Route 53's checkers
    blocks = dns.blocks(plan(spec))
    check = resources(blocks, "aws_route53_health_check")["primary"]
    assert check.attribute("type") == "CLOUDWATCH_METRIC"
    assert check.attribute("insufficient_data_health_status") == "Unhealthy"
    alarm = resources(blocks, "aws_cloudwatch_metric_alarm")["primary_healthy"]
    # One query per target group of the primary (variants, blue/green pairs), then the sum.
    primary = load_balancer.region_blocks(plan(spec), region.primary(spec.region))
    groups = [b for b in primary if b.labels[0] == "aws_lb_target_group"]
    queries = children(alarm, "metric_query")
    assert len(groups) >= 2 and len(queries) == len(groups) + 1
    ids = ", ".join(f"m{i}" for i in range(len(groups)))
    assert queries[-1].attribute("expression") == f"SUM([{ids}])"


@pytest.mark.parametrize(("rto", "interval"), [(5, 10), (15, 10), (16, 30)])
def test_fast_checks_for_short_rtos(rto: int, interval: int) -> None:
    base = environments("clinical-notes")[1]
    spec = base.model_copy(update={"dr": base.dr.model_copy(update={"rto_minutes": rto})})
    check = resources(dns.blocks(plan(spec)), "aws_route53_health_check")["secondary"]
    assert check.attribute("request_interval") == interval


def test_dns_records_replace_the_core_stacks_single_record() -> None:
    """With routing records the API name must have no simple record beside them."""
    spec = environments("clinical-notes")[1]
    assert dns.routes_api(spec)
    simple = resources(load_balancer.blocks(plan(spec)), "aws_route53_record").get("api")
    # Route 53 rejects a simple record beside failover/latency records of the same name.
    assert simple is None
