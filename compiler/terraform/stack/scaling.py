"""scaling.tf: Application Auto Scaling of every variant's service between the spec's min and
max, tracking ALB requests per task, CPU, and the runtime's queue depth (EMF)."""

from __future__ import annotations

from compiler.spec import ResolvedSpec
from compiler.terraform.hcl import Block, Expr, Ref, Template, Value, resource
from compiler.terraform.plan import blue_green
from runtime import emf

from . import capture, common


def blocks(spec: ResolvedSpec) -> list[Block]:
    found: list[Block] = []
    for variant in common.variants(spec):
        found += [
            _target(spec, variant),
            _requests_policy(spec, variant),
            _cpu_policy(spec, variant),
            _queue_policy(spec, variant),
        ]
    return found


def _target_ref(variant: common.Variant, attribute: str) -> Expr:
    return Ref(f"aws_appautoscaling_target.{variant.key}.{attribute}")


def _target(spec: ResolvedSpec, variant: common.Variant) -> Block:
    return resource(
        "aws_appautoscaling_target",
        variant.key,
        {
            "service_namespace": "ecs",
            "scalable_dimension": "ecs:service:DesiredCount",
            "resource_id": Template(
                f"service/${{aws_ecs_cluster.main.name}}/${{aws_ecs_service.{variant.key}.name}}"
            ),
            "min_capacity": spec.scaling.min,
            "max_capacity": spec.scaling.max,
        },
    )


def _policy(variant: common.Variant, label: str, tracking: list[Block | dict[str, Value]]) -> Block:
    return resource(
        "aws_appautoscaling_policy",
        f"{variant.key}_{label}",
        [
            {
                "name": Template(f"${{local.name}}-{variant.key}-{label.replace('_', '-')}"),
                "policy_type": "TargetTrackingScaling",
                "service_namespace": _target_ref(variant, "service_namespace"),
                "scalable_dimension": _target_ref(variant, "scalable_dimension"),
                "resource_id": _target_ref(variant, "resource_id"),
            },
            Block("target_tracking_scaling_policy_configuration", (), tracking),
        ],
    )


def _cooldowns(spec: ResolvedSpec, target: int) -> dict[str, Value]:
    return {
        "target_value": target,
        "scale_in_cooldown": spec.scaling.scale_in_cooldown_s,
        "scale_out_cooldown": spec.scaling.scale_out_cooldown_s,
    }


def _requests_policy(spec: ResolvedSpec, variant: common.Variant) -> Block:
    tracking: list[Block | dict[str, Value]] = [
        _cooldowns(spec, spec.scaling.target_requests_per_instance)
    ]
    if blue_green(spec):
        # ECS moves traffic between the blue and green target groups on every deployment:
        # track the requests of both per running task.
        tracking.append(_requests_per_task(spec, variant))
    else:
        tracking.append(
            Block(
                "predefined_metric_specification",
                (),
                {
                    "predefined_metric_type": "ALBRequestCountPerTarget",
                    "resource_label": Template(
                        "${aws_lb.main.arn_suffix}/"
                        f"${{aws_lb_target_group.{variant.key}.arn_suffix}}"
                    ),
                },
            )
        )
    return _policy(variant, "requests", tracking)


def _metric(
    id_: str, namespace: str, metric: str, stat: str, dimensions: dict[str, Value]
) -> Block:
    return Block(
        "metrics",
        (),
        [
            {"id": id_, "return_data": False},
            Block(
                "metric_stat",
                (),
                [
                    {"stat": stat},
                    Block(
                        "metric",
                        (),
                        [
                            {"namespace": namespace, "metric_name": metric},
                            *(
                                Block("dimensions", (), {"name": k, "value": v})
                                for k, v in dimensions.items()
                            ),
                        ],
                    ),
                ],
            ),
        ],
    )


def _requests_per_task(spec: ResolvedSpec, variant: common.Variant) -> Block:
    lb = Ref("aws_lb.main.arn_suffix")
    return Block(
        "customized_metric_specification",
        (),
        [
            _metric(
                "blue",
                "AWS/ApplicationELB",
                "RequestCount",
                "Sum",
                {
                    "LoadBalancer": lb,
                    "TargetGroup": Ref(f"aws_lb_target_group.{variant.key}.arn_suffix"),
                },
            ),
            _metric(
                "green",
                "AWS/ApplicationELB",
                "RequestCount",
                "Sum",
                {
                    "LoadBalancer": lb,
                    "TargetGroup": Ref(f"aws_lb_target_group.{variant.key}_alt.arn_suffix"),
                },
            ),
            _metric(
                "tasks",
                "ECS/ContainerInsights",
                "RunningTaskCount",
                "Average",
                {
                    "ClusterName": Ref("aws_ecs_cluster.main.name"),
                    "ServiceName": Ref(f"aws_ecs_service.{variant.key}.name"),
                },
            ),
            Block(
                "metrics",
                (),
                {
                    "id": "per_task",
                    "expression": "(FILL(blue, 0) + FILL(green, 0)) / tasks",
                    "label": "ALB requests per running task",
                    "return_data": True,
                },
            ),
        ],
    )


def _queue_policy(spec: ResolvedSpec, variant: common.Variant) -> Block:
    """The runtime's own load signal (runtime/metrics.py, EMF): requests waiting for a
    batch slot, averaged over the tasks that report it. A few long generations saturate
    a task at a request rate the ALB metric calls idle. Scoped to this variant's tasks
    (runtime/emf.py names the metric and its dimensions for both sides)."""
    reported = capture.runtime_variant(spec, variant.key)
    dimensions = emf.scaling_dimensions(spec.model.name, reported)
    metric = Block(
        "customized_metric_specification",
        (),
        [
            {
                "namespace": spec.metrics_namespace,
                "metric_name": emf.QUEUE_DEPTH,
                "statistic": "Average",
            },
            *(Block("dimensions", (), {"name": k, "value": v}) for k, v in dimensions.items()),
        ],
    )
    return _policy(variant, "queue", [_cooldowns(spec, spec.scaling.target_queue_depth), metric])


def _cpu_policy(spec: ResolvedSpec, variant: common.Variant) -> Block:
    return _policy(
        variant,
        "cpu",
        [
            _cooldowns(spec, spec.scaling.target_cpu_percent),
            Block(
                "predefined_metric_specification",
                (),
                {"predefined_metric_type": "ECSServiceAverageCPUUtilization"},
            ),
        ],
    )
