"""observability.tf: the alarm topic, alarms with runbook text, and a dashboard.

Load-balancer alarms watch the whole API; each variant's service gets its own health,
CPU and memory alarms; the runtime's own EMF metrics (namespace `metrics_namespace`,
dimension `Model`) cover time to first token and queue depth. Every region that serves
(regional.fleets) gets all of them, on its own topic, from the same builders: CloudWatch
alarms notify only SNS topics in their own region, and the runtime's EMF metrics land in
the region its tasks run in.
"""

from __future__ import annotations

import re

from compiler.spec import ResolvedSpec
from compiler.terraform.hcl import Block, Ref, Template, Value, jsonencode, resource
from compiler.terraform.plan import Fleet, Plan, Variant

from . import dr_plan, regional
from .cloudwatch import PERIOD_S, alarm, expression_query, metric_query, widget
from .region import Region


def blocks(p: Plan) -> list[Block]:
    found: list[Block] = []
    for where, fleet in regional.fleets(p):
        found += region_blocks(p, where, fleet)
        if not where.secondary and p.spec.observability.dashboard:
            found.append(_dashboard(p))
    return found


def region_blocks(p: Plan, where: Region, fleet: Fleet) -> list[Block]:
    """One region's alarm topic and the alarms on its load balancer, runtime metrics and
    each service it runs (the secondary: its one service, plan.Fleet)."""
    spec = p.spec
    found = [_topic(spec, where), *_subscriptions(spec, where), *_api_alarms(spec, where)]
    found += _runtime_alarms(spec, where)
    for variant in fleet.variants:
        found += _service_alarms(spec, where, fleet, variant)
    return found


def _topic(spec: ResolvedSpec, where: Region) -> Block:
    key = dr_plan.secondary_key_arn(spec) if where.secondary else Ref("aws_kms_key.main.id")
    name = where.aws_name("-alarms")
    return resource(
        "aws_sns_topic",
        where.label("alarms"),
        where.on({"name": name, "kms_master_key_id": key}),
    )


def _label(email: str) -> str:
    return "notify_" + re.sub(r"[^a-z0-9]+", "_", email.lower()).strip("_")


def _subscriptions(spec: ResolvedSpec, where: Region) -> list[Block]:
    # Email endpoints stay pending until the recipient confirms the AWS message.
    topic = Ref(f"aws_sns_topic.{where.label('alarms')}.arn")
    return [
        resource(
            "aws_sns_topic_subscription",
            where.label(_label(email)),
            where.on({"topic_arn": topic, "protocol": "email", "endpoint": email}),
        )
        for email in spec.observability.alarms.notify
    ]


def _runbook(spec: ResolvedSpec, what: str, steps: str) -> str:
    return (
        f"{what} ({spec.metadata.name} {spec.environment}, owner {spec.metadata.owner}). "
        f"Runbook: {steps}"
    )


def _lb(where: Region) -> dict[str, Value]:
    return {"LoadBalancer": Ref(f"aws_lb.{where.main}.arn_suffix")}


def _api_alarms(spec: ResolvedSpec, where: Region) -> list[Block]:
    alarms = spec.observability.alarms
    p99 = alarm(
        "p99_latency",
        {
            "alarm_description": _runbook(
                spec,
                f"p99 response time above {alarms.p99_latency_ms} ms for 3 minutes",
                "check the dashboard for queue depth and time to first token; if the queue is "
                "full, raise scaling.max or serving.max_concurrent_requests; if a deployment "
                "is in progress ECS rolls it back on this alarm.",
            ),
            "namespace": "AWS/ApplicationELB",
            "metric_name": "TargetResponseTime",
            "dimensions": _lb(where),
            "extended_statistic": "p99",
            "period": PERIOD_S,
            "evaluation_periods": 3,
            "threshold": alarms.p99_latency_ms / 1000,
            "comparison_operator": "GreaterThanThreshold",
            "treat_missing_data": "notBreaching",
        },
        where=where,
    )
    error_rate = alarm(
        "error_rate",
        {
            "alarm_description": _runbook(
                spec,
                f"more than {alarms.error_rate_percent}% of requests failed with 5xx for 3 minutes",
                "read the runtime log group for tracebacks; 502/503 from the load balancer "
                "mean no healthy task (see the unhealthy-hosts alarm); roll back the last "
                "spec change if it started with a deployment.",
            ),
            "evaluation_periods": 3,
            "threshold": alarms.error_rate_percent,
            "comparison_operator": "GreaterThanThreshold",
            "treat_missing_data": "notBreaching",
        },
        expression_query(
            "rate", "100 * (FILL(target, 0) + FILL(elb, 0)) / requests", "5xx percent"
        ),
        _metric_query("target", "HTTPCode_Target_5XX_Count", where),
        _metric_query("elb", "HTTPCode_ELB_5XX_Count", where),
        _metric_query("requests", "RequestCount", where),
        where=where,
    )
    return [p99, error_rate]


def _metric_query(id_: str, metric: str, where: Region) -> Block:
    return metric_query(
        id_,
        {
            "namespace": "AWS/ApplicationELB",
            "metric_name": metric,
            "dimensions": _lb(where),
            "period": PERIOD_S,
            "stat": "Sum",
        },
    )


def _runtime_alarms(spec: ResolvedSpec, where: Region) -> list[Block]:
    alarms = spec.observability.alarms
    model = {"Model": spec.model.name}
    return [
        alarm(
            "time_to_first_token",
            {
                "alarm_description": _runbook(
                    spec,
                    f"p95 time to first token above {alarms.ttft_p95_ms} ms for 5 minutes",
                    "prompts are waiting for a batch slot or prefill is slow: compare "
                    "QueueDepth; scale out (scaling.max) or lower model.context_tokens.",
                ),
                "namespace": spec.metrics_namespace,
                "metric_name": "TimeToFirstToken",
                "dimensions": model,
                "extended_statistic": "p95",
                "period": PERIOD_S,
                "evaluation_periods": 5,
                "threshold": alarms.ttft_p95_ms,
                "comparison_operator": "GreaterThanThreshold",
                "treat_missing_data": "notBreaching",
            },
            where=where,
        ),
        alarm(
            "queue_depth",
            {
                "alarm_description": _runbook(
                    spec,
                    f"more than {alarms.queue_depth} requests queued for 5 minutes",
                    "demand exceeds capacity: check that autoscaling is not at scaling.max; "
                    "raise it, or serving.max_concurrent_requests if CPU/GPU has headroom.",
                ),
                "namespace": spec.metrics_namespace,
                "metric_name": "QueueDepth",
                "dimensions": model,
                "statistic": "Maximum",
                "period": PERIOD_S,
                "evaluation_periods": 5,
                "threshold": alarms.queue_depth,
                "comparison_operator": "GreaterThanThreshold",
                "treat_missing_data": "notBreaching",
            },
            where=where,
        ),
    ]


def _service_alarms(
    spec: ResolvedSpec, where: Region, fleet: Fleet, variant: Variant
) -> list[Block]:
    """Unhealthy targets, CPU and memory of the service that runs `variant` in `where`
    (the unhealthy-targets alarm also rolls its deployments back: compute.py)."""
    key = variant.key
    service = {
        "ClusterName": Ref(f"aws_ecs_cluster.{where.main}.name"),
        "ServiceName": Ref(f"aws_ecs_service.{where.service(key)}.name"),
    }
    usage = [
        alarm(
            f"{key}_{metric.lower()}",
            {
                "alarm_description": _runbook(
                    spec,
                    f"variant {key}: average {metric} above {threshold}% for 10 minutes",
                    advice,
                ),
                "namespace": "AWS/ECS",
                "metric_name": f"{metric}Utilization",
                "dimensions": service,
                "statistic": "Average",
                "period": 300,
                "evaluation_periods": 2,
                "threshold": threshold,
                "comparison_operator": "GreaterThanThreshold",
                "treat_missing_data": "notBreaching",
            },
            where=where,
        )
        for metric, threshold, advice in (
            ("CPU", 90, "autoscaling should add tasks; if at scaling.max, raise it."),
            (
                "Memory",
                90,
                "a task near its limit is killed by the kernel: raise compute.memory_mib or "
                "lower serving.max_concurrent_requests.",
            ),
        )
    ]
    return [_unhealthy_alarm(spec, where, fleet, variant), *usage]


def _unhealthy_alarm(spec: ResolvedSpec, where: Region, fleet: Fleet, variant: Variant) -> Block:
    key = variant.key
    label = where.service(key)
    return alarm(
        f"{key}_unhealthy_hosts",
        {
            "alarm_description": _runbook(
                spec,
                f"variant {key} (model {variant.model_version}) has unhealthy targets "
                "for 3 minutes",
                "tasks fail /readyz: the model artifact may be missing or fail its checksum "
                "(see the runtime log group), or tasks run out of memory (memory alarm).",
            ),
            **_unhealthy_metric(where, fleet, label),
            "evaluation_periods": 3,
            "threshold": 0,
            "comparison_operator": "GreaterThanThreshold",
            "treat_missing_data": "notBreaching",
        },
        *_unhealthy_queries(where, fleet, label),
        where=where,
    )


def _unhealthy_dimensions(where: Region, target_group: str) -> dict[str, Value]:
    return {**_lb(where), "TargetGroup": Ref(f"aws_lb_target_group.{target_group}.arn_suffix")}


def _unhealthy_metric(where: Region, fleet: Fleet, key: str) -> dict[str, Value]:
    if fleet.blue_green:
        return {}  # metric queries below: the live target group alternates
    return {
        "namespace": "AWS/ApplicationELB",
        "metric_name": "UnHealthyHostCount",
        "dimensions": _unhealthy_dimensions(where, key),
        "statistic": "Maximum",
        "period": PERIOD_S,
    }


def _unhealthy_queries(where: Region, fleet: Fleet, key: str) -> list[Block]:
    """With ECS blue/green the variant serves from either target group: watch both."""
    if not fleet.blue_green:
        return []
    queries = [
        expression_query("worst", "MAX([FILL(blue, 0), FILL(green, 0)])", "unhealthy targets")
    ]
    for id_, target_group in (("blue", key), ("green", f"{key}_alt")):
        queries.append(
            metric_query(
                id_,
                {
                    "namespace": "AWS/ApplicationELB",
                    "metric_name": "UnHealthyHostCount",
                    "dimensions": _unhealthy_dimensions(where, target_group),
                    "period": PERIOD_S,
                    "stat": "Maximum",
                },
            )
        )
    return queries


def _dashboard(p: Plan) -> Block:
    spec = p.spec
    lb = "${aws_lb.main.arn_suffix}"
    model = spec.model.name
    namespace = spec.metrics_namespace

    def panel(title: str, metrics: list[Value], x: int, y: int, stat: str) -> dict[str, Value]:
        return widget(spec.region, title, metrics, x, y, stat)

    services: list[Value] = [
        [
            "AWS/ECS",
            "CPUUtilization",
            "ClusterName",
            Template("${local.name}"),
            "ServiceName",
            Template(f"${{local.name}}-{v.key}"),
        ]
        for v in p.variants
    ]
    body = {
        "widgets": [
            panel(
                "Requests and 5xx",
                [
                    ["AWS/ApplicationELB", "RequestCount", "LoadBalancer", Template(lb)],
                    [".", "HTTPCode_Target_5XX_Count", ".", "."],
                    [".", "HTTPCode_ELB_5XX_Count", ".", "."],
                ],
                0,
                0,
                "Sum",
            ),
            panel(
                "p99 response time (s)",
                [["AWS/ApplicationELB", "TargetResponseTime", "LoadBalancer", Template(lb)]],
                12,
                0,
                "p99",
            ),
            panel(
                "Time to first token p95 (ms)",
                [[namespace, "TimeToFirstToken", "Model", model]],
                0,
                6,
                "p95",
            ),
            panel("Queue depth", [[namespace, "QueueDepth", "Model", model]], 12, 6, "Maximum"),
            panel("CPU per variant (%)", services, 0, 12, "Average"),
        ]
    }
    return resource(
        "aws_cloudwatch_dashboard",
        "main",
        {"dashboard_name": Ref("local.name"), "dashboard_body": jsonencode(body)},
    )
