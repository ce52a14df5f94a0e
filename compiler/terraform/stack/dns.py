"""dns.tf: Route 53 health checks on both regions' API, and the records that route by them.

Health checks exist whenever a secondary service does (pilot light and up): on-call sees
both regions' health even without a hosted zone. With `security.tls.hosted_zone_id` the API
name gets two alias records instead of one:

    pilot-light, warm-standby  failover routing: PRIMARY while healthy, else SECONDARY
    active-active              latency routing: each client to the nearest healthy region

Health checks probe the runtime's readiness endpoint over HTTPS through each region's load
balancer. When the spec restricts client networks, the primary load balancer does not admit
Route 53's checkers, so the primary is judged by a CloudWatch alarm on its healthy targets
instead (no data counts as unhealthy: a region that stops reporting is down).
"""

from __future__ import annotations

from compiler.spec import ResolvedSpec
from compiler.terraform.hcl import Block, Ref, Template, Value, resource
from compiler.terraform.plan import (
    FAILURE_THRESHOLD,
    Plan,
    detection_seconds,
    has_health_checks,
    primary_checked_by_alarm,
    request_interval,
    routes_api,
    routing,
)

from . import dr_plan
from .cloudwatch import PERIOD_S, alarm, expression_query, metric_query

__all__ = [
    "blocks",
    "detection_seconds",
    "has_health_checks",
    "primary_checked_by_alarm",
    "request_interval",
    "routes_api",
    "routing",
]


def blocks(p: Plan) -> list[Block]:
    if p.secondary_capacity is None:  # no health checks without secondary compute
        return []
    found = [*_primary_checks(p), _https_check(p.spec, "secondary", "aws_lb.secondary")]
    if p.routes_api:
        found += _records(p)
    return found


def _https_check(spec: ResolvedSpec, label: str, lb: str) -> Block:
    return resource(
        "aws_route53_health_check",
        label,
        {
            "type": "HTTPS",
            "fqdn": Ref(f"{lb}.dns_name"),
            "port": 443,
            "resource_path": dr_plan.HEALTH_PATH,
            "request_interval": request_interval(spec),
            "failure_threshold": FAILURE_THRESHOLD,
            "measure_latency": spec.dr.strategy == "active-active",
            "tags": {"Name": Template(f"${{local.name}}-{label}")},
        },
    )


def _primary_checks(p: Plan) -> list[Block]:
    if not p.primary_checked_by_alarm:
        return [_https_check(p.spec, "primary", "aws_lb.main")]
    return [
        _healthy_targets_alarm(p),
        resource(
            "aws_route53_health_check",
            "primary",
            {
                "type": "CLOUDWATCH_METRIC",
                "cloudwatch_alarm_name": Ref(
                    "aws_cloudwatch_metric_alarm.primary_healthy.alarm_name"
                ),
                "cloudwatch_alarm_region": p.region,
                "insufficient_data_health_status": "Unhealthy",
                "tags": {"Name": Template("${local.name}-primary")},
            },
        ),
    ]


def _healthy_targets_alarm(p: Plan) -> Block:
    """Healthy targets summed over every target group (variants, blue/green pairs)."""
    queries: list[Block] = []
    ids = []
    for index, group in enumerate(p.target_groups):
        query_id = f"m{index}"
        ids.append(query_id)
        metric: dict[str, Value] = {
            "namespace": "AWS/ApplicationELB",
            "metric_name": "HealthyHostCount",
            "dimensions": {
                "LoadBalancer": Ref("aws_lb.main.arn_suffix"),
                "TargetGroup": Ref(f"aws_lb_target_group.{group}.arn_suffix"),
            },
            "period": PERIOD_S,
            "stat": "Minimum",
        }
        queries.append(metric_query(query_id, metric))
    total = expression_query("healthy", f"SUM([{', '.join(ids)}])", "Healthy targets")
    body: dict[str, Value] = {
        "alarm_description": (
            f"No healthy API task in {p.region}. Route 53 treats the primary as down "
            "and sends traffic to the secondary region. See RUNBOOK.md, 'Primary region "
            "unhealthy'."
        ),
        "comparison_operator": "LessThanThreshold",
        "threshold": 1,
        "evaluation_periods": FAILURE_THRESHOLD,
        "treat_missing_data": "breaching",
    }
    return alarm("primary_healthy", body, *queries, total)


def _records(p: Plan) -> list[Block]:
    regions = {"primary": p.region, "secondary": p.secondary_region}
    balancers = {"primary": "aws_lb.main", "secondary": "aws_lb.secondary"}
    found = []
    for role in ("primary", "secondary"):
        if p.routing == "latency":
            policy = Block("latency_routing_policy", (), {"region": regions[role]})
        else:
            policy = Block("failover_routing_policy", (), {"type": role.upper()})
        found.append(
            resource(
                "aws_route53_record",
                f"api_{role}",
                [
                    {
                        "zone_id": p.hosted_zone_id,
                        "name": p.hostname,
                        "type": "A",
                        "set_identifier": f"{role}-{regions[role]}",
                        "health_check_id": Ref(f"aws_route53_health_check.{role}.id"),
                    },
                    policy,
                    Block(
                        "alias",
                        (),
                        {
                            "name": Ref(f"{balancers[role]}.dns_name"),
                            "zone_id": Ref(f"{balancers[role]}.zone_id"),
                            "evaluate_target_health": True,
                        },
                    ),
                ],
            )
        )
    return found
