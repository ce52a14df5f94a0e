"""The secondary region's ECS service: cluster, task definition (the primary's container,
placed in the secondary: container.py), service and its scaling. Fargate only: the standby
needs no GPU fleet of its own (see dr_compute)."""

from __future__ import annotations

from compiler.spec import ResolvedSpec
from compiler.spec.model import FARGATE_MEMORY_MIB
from compiler.terraform.hcl import Block, Expr, Ref, Template, Value, resource
from compiler.terraform.plan import model_prefix

from . import common, container
from .buckets import document
from .dr_plan import (
    Capacity,
    log_group,
    models_replica_name,
    on,
    secondary_key_arn,
    secondary_log_groups,
    serving_variant,
)


def secret_replica_arn(spec: ResolvedSpec) -> Expr:
    """The API-key secret's replica in the secondary region (same name and suffix)."""
    return Expr(
        f'replace(aws_secretsmanager_secret.api_keys.arn, ":{spec.region}:", '
        f'":{spec.dr.secondary_region}:")'
    )


def fargate_memory(cpu: int, memory_mib: int) -> int:
    """The spec's memory, moved into Fargate's range for the CPU size (1 GiB steps)."""
    low, high = FARGATE_MEMORY_MIB[cpu]
    rounded = -(-memory_mib // 1024) * 1024
    return min(max(rounded, low), high)


def secondary_image(spec: ResolvedSpec) -> Template:
    """The primary's image (same repository name and tag) in the secondary registry."""
    return Template(
        f"${{local.account_id}}.dkr.ecr.{spec.dr.secondary_region}.amazonaws.com/"
        "${local.name}:${var.image_tag}"
    )


def _container(spec: ResolvedSpec) -> dict[str, Value]:
    """The primary's container (container.py), placed in the secondary region."""
    assert spec.dr.secondary_region is not None
    variant = serving_variant(spec)
    artifact = f"s3://{models_replica_name()}/{model_prefix(spec)}{variant.model_version}/"
    place = container.Place(
        image=secondary_image(spec),
        artifact=Template(artifact),
        log_group=secondary_log_groups(spec)["runtime_secondary"],
        log_region=spec.dr.secondary_region,
        api_keys=secret_replica_arn(spec),
        gpus=False,  # Fargate (see module docstring)
    )
    return container.definition(spec, variant, place)


def _task(spec: ResolvedSpec) -> Block:
    cpu = spec.compute.cpu
    return resource(
        "aws_ecs_task_definition",
        "secondary",
        [
            on(
                {
                    "family": Template("${local.name}-dr"),
                    "requires_compatibilities": ["FARGATE"],
                    "network_mode": "awsvpc",
                    "cpu": str(cpu),
                    "memory": str(fargate_memory(cpu, spec.compute.memory_mib)),
                    "execution_role_arn": Ref("aws_iam_role.execution_secondary.arn"),
                    "task_role_arn": Ref("aws_iam_role.task_secondary.arn"),
                    "container_definitions": document([_container(spec)]),
                }
            ),
            *container.volumes(),
            Block(
                "runtime_platform",
                (),
                {
                    "operating_system_family": "LINUX",
                    "cpu_architecture": spec.compute.architecture.upper(),
                },
            ),
        ],
    )


def _cluster(spec: ResolvedSpec) -> Block:
    return resource(
        "aws_ecs_cluster",
        "secondary",
        [
            on({"name": Template("${local.name}-dr")}),
            Block("setting", (), {"name": "containerInsights", "value": "enabled"}),
            Block(
                "configuration",
                (),
                [
                    Block(
                        "execute_command_configuration",
                        (),
                        [
                            {"kms_key_id": secondary_key_arn(spec), "logging": "OVERRIDE"},
                            Block(
                                "log_configuration",
                                (),
                                {
                                    "cloud_watch_encryption_enabled": True,
                                    "cloud_watch_log_group_name": Ref(
                                        "aws_cloudwatch_log_group.ecs_exec_secondary.name"
                                    ),
                                },
                            ),
                        ],
                    )
                ],
            ),
        ],
    )


def _service(spec: ResolvedSpec, capacity: Capacity) -> Block:
    return resource(
        "aws_ecs_service",
        "secondary",
        [
            on(
                {
                    "name": Template("${local.name}-dr"),
                    "cluster": Ref("aws_ecs_cluster.secondary.arn"),
                    "task_definition": Ref("aws_ecs_task_definition.secondary.arn"),
                    "desired_count": capacity.desired,
                    "launch_type": "FARGATE",
                    "platform_version": "LATEST",
                    "health_check_grace_period_seconds": 300,
                    "enable_execute_command": False,
                    "propagate_tags": "SERVICE",
                    "wait_for_steady_state": False,
                }
            ),
            Block(
                "network_configuration",
                (),
                {
                    "subnets": Expr("aws_subnet.secondary_private[*].id"),
                    "security_groups": [Ref("aws_security_group.secondary_tasks.id")],
                    "assign_public_ip": False,
                },
            ),
            Block(
                "load_balancer",
                (),
                {
                    "target_group_arn": Ref("aws_lb_target_group.secondary.arn"),
                    "container_name": common.CONTAINER,
                    "container_port": spec.serving.port,
                },
            ),
            Block("deployment_circuit_breaker", (), {"enable": True, "rollback": True}),
            # Failover raises the count outside Terraform (RUNBOOK.md); do not undo it.
            Block("lifecycle", (), {"ignore_changes": [Expr("desired_count")]}),
            {
                "depends_on": [
                    Ref("aws_lb_listener.secondary_https"),
                    Ref("aws_iam_role_policy.execution_secondary"),
                    Ref("aws_iam_role_policy.task_secondary"),
                ]
            },
        ],
    )


def _scaling(spec: ResolvedSpec, capacity: Capacity) -> list[Block]:
    resource_id = "service/${aws_ecs_cluster.secondary.name}/${aws_ecs_service.secondary.name}"
    return [
        resource(
            "aws_appautoscaling_target",
            "secondary",
            on(
                {
                    "service_namespace": "ecs",
                    "scalable_dimension": "ecs:service:DesiredCount",
                    "resource_id": Template(resource_id),
                    "min_capacity": capacity.min,
                    "max_capacity": capacity.max,
                }
            ),
        ),
        resource(
            "aws_appautoscaling_policy",
            "secondary_cpu",
            [
                on(
                    {
                        "name": Template("${local.name}-dr-cpu"),
                        "policy_type": "TargetTrackingScaling",
                        "service_namespace": "ecs",
                        "scalable_dimension": "ecs:service:DesiredCount",
                        "resource_id": Template(resource_id),
                    }
                ),
                Block(
                    "target_tracking_scaling_policy_configuration",
                    (),
                    [
                        {
                            "target_value": spec.scaling.target_cpu_percent,
                            "scale_in_cooldown": spec.scaling.scale_in_cooldown_s,
                            "scale_out_cooldown": spec.scaling.scale_out_cooldown_s,
                        },
                        Block(
                            "predefined_metric_specification",
                            (),
                            {"predefined_metric_type": "ECSServiceAverageCPUUtilization"},
                        ),
                    ],
                ),
                {"depends_on": [Ref("aws_appautoscaling_target.secondary")]},
            ],
        ),
    ]


def blocks(spec: ResolvedSpec, capacity: Capacity) -> list[Block]:
    return [
        log_group(spec, "runtime_secondary"),
        log_group(spec, "ecs_exec_secondary"),
        _cluster(spec),
        resource(
            "aws_ecs_cluster_capacity_providers",
            "secondary",
            [
                on(
                    {
                        "cluster_name": Ref("aws_ecs_cluster.secondary.name"),
                        "capacity_providers": ["FARGATE"],
                    }
                ),
                Block(
                    "default_capacity_provider_strategy",
                    (),
                    {"capacity_provider": "FARGATE", "weight": 1, "base": 0},
                ),
            ],
        ),
        _task(spec),
        _service(spec, capacity),
        *_scaling(spec, capacity),
    ]
