"""scaling.tf: Application Auto Scaling of every service, in each region that serves, over
the fleet's capacity (plan.Fleet: the spec's min..max per variant in the primary, the DR
strategy's range in the secondary), tracking ALB requests per task, CPU, and the runtime's
queue depth (EMF). One builder renders both regions."""

from __future__ import annotations

from dataclasses import dataclass

from compiler.spec import ResolvedSpec
from compiler.terraform.hcl import Block, Expr, Ref, Template, Value, resource
from compiler.terraform.plan import Fleet, Plan
from runtime import emf

from . import capture, common, container, regional
from .region import Region


@dataclass(frozen=True)
class Scaled:
    """One service to scale: where it runs, on what fleet, serving which variant."""

    where: Region
    fleet: Fleet
    variant: common.Variant

    @property
    def label(self) -> str:
        return self.where.service(self.variant.key)


def blocks(p: Plan) -> list[Block]:
    found: list[Block] = []
    for where, fleet in regional.fleets(p):
        for variant in fleet.variants:
            found += service_blocks(p, Scaled(where, fleet, variant))
    return found


def service_blocks(p: Plan, scaled: Scaled) -> list[Block]:
    """The scalable target of one service and its three target-tracking policies."""
    spec = p.spec
    return [
        _target(scaled),
        _requests_policy(spec, scaled),
        _cpu_policy(spec, scaled),
        _queue_policy(spec, scaled),
    ]


def _target_ref(scaled: Scaled, attribute: str) -> Expr:
    return Ref(f"aws_appautoscaling_target.{scaled.label}.{attribute}")


def _target(scaled: Scaled) -> Block:
    capacity = scaled.fleet.capacity
    cluster = f"aws_ecs_cluster.{scaled.where.main}.name"
    service = f"aws_ecs_service.{scaled.label}.name"
    return resource(
        "aws_appautoscaling_target",
        scaled.label,
        scaled.where.on(
            {
                "service_namespace": "ecs",
                "scalable_dimension": "ecs:service:DesiredCount",
                "resource_id": Template(f"service/${{{cluster}}}/${{{service}}}"),
                "min_capacity": capacity.min,
                "max_capacity": capacity.max,
            }
        ),
    )


def _policy(scaled: Scaled, label: str, tracking: list[Block | dict[str, Value]]) -> Block:
    where = scaled.where
    return resource(
        "aws_appautoscaling_policy",
        f"{scaled.label}_{label}",
        [
            where.on(
                {
                    "name": where.service_name(scaled.variant.key, f"-{label.replace('_', '-')}"),
                    "policy_type": "TargetTrackingScaling",
                    "service_namespace": _target_ref(scaled, "service_namespace"),
                    "scalable_dimension": _target_ref(scaled, "scalable_dimension"),
                    "resource_id": _target_ref(scaled, "resource_id"),
                }
            ),
            Block("target_tracking_scaling_policy_configuration", (), tracking),
        ],
    )


def _cooldowns(spec: ResolvedSpec, target: int) -> dict[str, Value]:
    return {
        "target_value": target,
        "scale_in_cooldown": spec.scaling.scale_in_cooldown_s,
        "scale_out_cooldown": spec.scaling.scale_out_cooldown_s,
    }


def _requests_policy(spec: ResolvedSpec, scaled: Scaled) -> Block:
    tracking: list[Block | dict[str, Value]] = [
        _cooldowns(spec, spec.scaling.target_requests_per_instance)
    ]
    if scaled.fleet.blue_green:
        # ECS moves traffic between the blue and green target groups on every deployment:
        # track the requests of both per running task.
        tracking.append(_requests_per_task(scaled.variant))
    else:
        tracking.append(
            Block(
                "predefined_metric_specification",
                (),
                {
                    "predefined_metric_type": "ALBRequestCountPerTarget",
                    "resource_label": Template(
                        f"${{aws_lb.{scaled.where.main}.arn_suffix}}/"
                        f"${{aws_lb_target_group.{scaled.label}.arn_suffix}}"
                    ),
                },
            )
        )
    return _policy(scaled, "requests", tracking)


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


def _requests_per_task(variant: common.Variant) -> Block:
    """Blue/green runs only in the primary (plan.Fleet): its load balancer and cluster."""
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


def _queue_policy(spec: ResolvedSpec, scaled: Scaled) -> Block:
    """The runtime's own load signal (runtime/metrics.py, EMF): requests waiting for a
    batch slot, averaged over the tasks that report it. A few long generations saturate
    a task at a request rate the ALB metric calls idle. Scoped to this service's tasks by
    the variant its runtime reports (runtime/emf.py names the metric and its dimensions
    for both sides)."""
    told = container.place(spec, scaled.where, scaled.fleet, scaled.variant).variant
    dimensions = emf.scaling_dimensions(spec.model.name, capture.runtime_variant(spec, told))
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
    return _policy(scaled, "queue", [_cooldowns(spec, spec.scaling.target_queue_depth), metric])


def _cpu_policy(spec: ResolvedSpec, scaled: Scaled) -> Block:
    return _policy(
        scaled,
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
