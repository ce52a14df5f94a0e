"""compute.tf: the ECS cluster, one task definition and service per variant, and (for ec2)
the Auto Scaling group that backs the cluster's capacity provider.

Container definitions are built from literals and locals only: checkov cannot see through
computed attributes, and the checks that read container definitions would silently vanish.
"""

from __future__ import annotations

from compiler.spec import ResolvedSpec
from compiler.terraform.hcl import Block, Expr, Ref, Template, Value, jsonencode, resource
from compiler.terraform.plan import blue_green

from . import common, ec2_fleet
from . import container as runtime_container

STRATEGIES = {"rolling": "ROLLING", "blue-green": "BLUE_GREEN", "canary": "CANARY"}


def model_load_grace_s(spec: ResolvedSpec) -> int:
    """Time the ALB health checks are ignored while a new task downloads and opens the model:
    GPU instances also pull a large image and warm up CUDA."""
    return 600 if spec.compute.platform == "ec2" else 300


def strategy(spec: ResolvedSpec) -> str:
    """The ECS deployment strategy the services use (see plan.blue_green)."""
    return spec.deployment.strategy


def container(spec: ResolvedSpec, variant: common.Variant) -> dict[str, Value]:
    """The primary region's container definition (built in container.py)."""
    return runtime_container.definition(
        spec,
        variant,
        runtime_container.Place(
            image=Ref("local.image"),
            artifact=common.artifact_uri(spec, variant.model_version),
            log_group=common.log_group_names(spec)["runtime"],
            log_region=spec.region,
            api_keys=Ref("aws_secretsmanager_secret.api_keys.arn"),
            gpus=True,
            variant=variant.key,
        ),
    )


def environment(spec: ResolvedSpec, model_version: str, variant: str = "") -> list[Value]:
    """The primary's runtime settings for one model version and variant (container.py)."""
    artifact = common.artifact_uri(spec, model_version)
    return runtime_container.environment(spec, artifact, model_version, variant)


def blocks(spec: ResolvedSpec) -> list[Block]:
    found = [
        common.log_group(spec, "runtime"),
        common.log_group(spec, "ecs_exec"),
        _cluster(spec),
        *(ec2_fleet.blocks(spec) if spec.compute.platform == "ec2" else []),
        _capacity_providers(spec),
    ]
    for variant in common.variants(spec):
        found += [_task_definition(spec, variant), _service(spec, variant)]
    return found


def _cluster(spec: ResolvedSpec) -> Block:
    return resource(
        "aws_ecs_cluster",
        "main",
        [
            {"name": Ref("local.name")},
            Block("setting", (), {"name": "containerInsights", "value": "enabled"}),
            Block(
                "configuration",
                (),
                [
                    Block(
                        "execute_command_configuration",
                        (),
                        [
                            {"kms_key_id": Ref("aws_kms_key.main.arn"), "logging": "OVERRIDE"},
                            Block(
                                "log_configuration",
                                (),
                                {
                                    "cloud_watch_encryption_enabled": True,
                                    "cloud_watch_log_group_name": Ref(
                                        "aws_cloudwatch_log_group.ecs_exec.name"
                                    ),
                                },
                            ),
                        ],
                    )
                ],
            ),
        ],
    )


def capacity_provider(spec: ResolvedSpec) -> Value:
    if spec.compute.platform == "ec2":
        return Ref("aws_ecs_capacity_provider.ec2.name")
    return "FARGATE"


def _capacity_providers(spec: ResolvedSpec) -> Block:
    provider = capacity_provider(spec)
    return resource(
        "aws_ecs_cluster_capacity_providers",
        "main",
        [
            {"cluster_name": Ref("aws_ecs_cluster.main.name"), "capacity_providers": [provider]},
            Block(
                "default_capacity_provider_strategy",
                (),
                {"capacity_provider": provider, "weight": 1, "base": 0},
            ),
        ],
    )


def _task_definition(spec: ResolvedSpec, variant: common.Variant) -> Block:
    fargate = spec.compute.platform == "fargate"
    body: list[Block | dict[str, Value]] = [
        {
            "family": Template(f"${{local.name}}-{variant.key}"),
            "requires_compatibilities": ["FARGATE" if fargate else "EC2"],
            "network_mode": "awsvpc",
            "cpu": str(spec.compute.cpu),
            "memory": str(spec.compute.memory_mib),
            "execution_role_arn": Ref("aws_iam_role.execution.arn"),
            "task_role_arn": Ref("aws_iam_role.task.arn"),
            "container_definitions": jsonencode([container(spec, variant)]),
        },
        *runtime_container.volumes(),
    ]
    if fargate:
        body.append(
            Block(
                "runtime_platform",
                (),
                {
                    "operating_system_family": "LINUX",
                    "cpu_architecture": spec.compute.architecture.upper(),
                },
            )
        )
    return resource("aws_ecs_task_definition", variant.key, body)


def deployment_alarms(spec: ResolvedSpec, variant: common.Variant) -> list[Value]:
    return [
        Ref("aws_cloudwatch_metric_alarm.error_rate.alarm_name"),
        Ref("aws_cloudwatch_metric_alarm.p99_latency.alarm_name"),
        Ref(f"aws_cloudwatch_metric_alarm.{variant.key}_unhealthy_hosts.alarm_name"),
    ]


def _deployment_configuration(spec: ResolvedSpec) -> Block:
    deployment = spec.deployment
    chosen = strategy(spec)
    body: list[Block | dict[str, Value]] = [{"strategy": STRATEGIES[chosen]}]
    if chosen != "rolling":
        body.append({"bake_time_in_minutes": str(deployment.bake_minutes)})
    if chosen == "canary":
        body.append(
            Block(
                "canary_configuration",
                (),
                {
                    "canary_percent": deployment.canary_percent,
                    "canary_bake_time_in_minutes": str(deployment.bake_minutes),
                },
            )
        )
    return Block("deployment_configuration", (), body)


def _load_balancer(spec: ResolvedSpec, variant: common.Variant) -> Block:
    body: list[Block | dict[str, Value]] = [
        {
            "target_group_arn": Ref(f"aws_lb_target_group.{variant.key}.arn"),
            "container_name": common.CONTAINER,
            "container_port": spec.serving.port,
        }
    ]
    if blue_green(spec):
        body.append(
            Block(
                "advanced_configuration",
                (),
                {
                    "alternate_target_group_arn": Ref(f"aws_lb_target_group.{variant.key}_alt.arn"),
                    "production_listener_rule": Ref("aws_lb_listener_rule.api.arn"),
                    "role_arn": Ref("aws_iam_role.ecs_load_balancers.arn"),
                },
            )
        )
    return Block("load_balancer", (), body)


def _service(spec: ResolvedSpec, variant: common.Variant) -> Block:
    body: list[Block | dict[str, Value]] = [
        {
            "name": Template(f"${{local.name}}-{variant.key}"),
            "cluster": Ref("aws_ecs_cluster.main.arn"),
            "task_definition": Ref(f"aws_ecs_task_definition.{variant.key}.arn"),
            "desired_count": spec.scaling.min,
            "health_check_grace_period_seconds": model_load_grace_s(spec),
            "enable_execute_command": False,
            "propagate_tags": "SERVICE",
            "wait_for_steady_state": False,
        }
    ]
    if spec.compute.platform == "fargate":
        body.append({"platform_version": "LATEST"})
    body += [
        Block(
            "capacity_provider_strategy",
            (),
            {"capacity_provider": capacity_provider(spec), "weight": 1, "base": 0},
        ),
        Block(
            "network_configuration",
            (),
            {
                "subnets": Ref("local.private_subnet_ids"),
                "security_groups": [Ref("aws_security_group.tasks.id")],
                "assign_public_ip": False,
            },
        ),
        _load_balancer(spec, variant),
        Block("deployment_controller", (), {"type": "ECS"}),
        _deployment_configuration(spec),
        Block("deployment_circuit_breaker", (), {"enable": True, "rollback": True}),
        Block(
            "alarms",
            (),
            {
                "alarm_names": deployment_alarms(spec, variant),
                "enable": True,
                "rollback": spec.deployment.rollback_on_alarm,
            },
        ),
        # Application Auto Scaling owns the task count once the service exists.
        Block("lifecycle", (), {"ignore_changes": [Expr("desired_count")]}),
        {"depends_on": _service_waits_for(spec)},
    ]
    return resource("aws_ecs_service", variant.key, body)


def _service_waits_for(spec: ResolvedSpec) -> list[Value]:
    """What must exist before ECS creates the service. IAM is eventually consistent: ECS
    checks the roles' permissions when the service is created (blue/green: that it may
    rewrite the listener rule), so the policies go first, not only the roles."""
    found: list[Value] = [
        Ref("aws_ecs_cluster_capacity_providers.main"),
        Ref("aws_lb_listener_rule.api"),
        Ref("aws_iam_role_policy.execution"),
        Ref("aws_iam_role_policy.task"),
    ]
    if blue_green(spec):
        found.append(Ref("aws_iam_role_policy_attachment.ecs_load_balancers"))
    return found
