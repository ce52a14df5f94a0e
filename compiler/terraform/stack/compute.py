"""compute.tf: in each region that serves, the ECS cluster and one task definition and
service per variant the region runs (plan.Fleet), and (for ec2) the Auto Scaling group that
backs the primary cluster's capacity provider.

One builder renders both regions: the secondary's cluster, task definition and service are
the primary's, placed there (regional.py) and sized by the DR strategy. Container
definitions are built from literals and locals only: checkov cannot see through computed
attributes, and the checks that read container definitions would silently vanish.
"""

from __future__ import annotations

from compiler.spec import ResolvedSpec
from compiler.terraform.hcl import Block, Expr, Ref, Value, jsonencode, resource
from compiler.terraform.plan import Fleet, Plan, Variant

from . import common, ec2_fleet, regional
from . import container as runtime_container
from .region import Region

STRATEGIES = {"rolling": "ROLLING", "blue-green": "BLUE_GREEN", "canary": "CANARY"}


def model_load_grace_s(fleet: Fleet) -> int:
    """Time the ALB health checks are ignored while a new task downloads and opens the model:
    GPU instances also pull a large image and warm up CUDA."""
    return 600 if fleet.platform == "ec2" else 300


def environment(spec: ResolvedSpec, model_version: str, variant: str = "") -> list[Value]:
    """The primary's runtime settings for one model version and variant (container.py)."""
    artifact = common.artifact_uri(spec, model_version)
    return runtime_container.environment(spec, artifact, model_version, variant)


def blocks(p: Plan) -> list[Block]:
    found: list[Block] = []
    for where, fleet in regional.fleets(p):
        found += region_blocks(p, where, fleet)
    return found


def region_blocks(p: Plan, where: Region, fleet: Fleet) -> list[Block]:
    """The cluster of one region and a task definition and service per variant it runs."""
    spec = p.spec
    found = [
        regional.log_group(spec, where, "runtime"),
        regional.log_group(spec, where, "ecs_exec"),
        _cluster(spec, where),
        *(ec2_fleet.blocks(spec) if fleet.platform == "ec2" else []),
        _capacity_providers(where, fleet),
    ]
    for variant in fleet.variants:
        found += [
            _task_definition(spec, where, fleet, variant),
            _service(spec, where, fleet, variant),
        ]
    return found


def _cluster(spec: ResolvedSpec, where: Region) -> Block:
    exec_logs = where.label("ecs_exec")
    return resource(
        "aws_ecs_cluster",
        where.main,
        [
            where.on({"name": where.aws_name()}),
            Block("setting", (), {"name": "containerInsights", "value": "enabled"}),
            Block(
                "configuration",
                (),
                [
                    Block(
                        "execute_command_configuration",
                        (),
                        [
                            {"kms_key_id": regional.key_arn(spec, where), "logging": "OVERRIDE"},
                            Block(
                                "log_configuration",
                                (),
                                {
                                    "cloud_watch_encryption_enabled": True,
                                    "cloud_watch_log_group_name": Ref(
                                        f"aws_cloudwatch_log_group.{exec_logs}.name"
                                    ),
                                },
                            ),
                        ],
                    )
                ],
            ),
        ],
    )


def capacity_provider(fleet: Fleet) -> Value:
    if fleet.platform == "ec2":
        return Ref("aws_ecs_capacity_provider.ec2.name")
    return "FARGATE"


def _capacity_providers(where: Region, fleet: Fleet) -> Block:
    provider = capacity_provider(fleet)
    cluster = Ref(f"aws_ecs_cluster.{where.main}.name")
    return resource(
        "aws_ecs_cluster_capacity_providers",
        where.main,
        [
            where.on({"cluster_name": cluster, "capacity_providers": [provider]}),
            Block(
                "default_capacity_provider_strategy",
                (),
                {"capacity_provider": provider, "weight": 1, "base": 0},
            ),
        ],
    )


def _task_definition(spec: ResolvedSpec, where: Region, fleet: Fleet, variant: Variant) -> Block:
    fargate = fleet.platform == "fargate"
    place = runtime_container.place(spec, where, fleet, variant)
    body: list[Block | dict[str, Value]] = [
        where.on(
            {
                "family": where.service_name(variant.key),
                "requires_compatibilities": ["FARGATE" if fargate else "EC2"],
                "network_mode": "awsvpc",
                "cpu": str(spec.compute.cpu),
                "memory": str(fleet.memory_mib),
                # IAM is global: both regions' tasks assume the same two roles (iam.py).
                "execution_role_arn": Ref("aws_iam_role.execution.arn"),
                "task_role_arn": Ref("aws_iam_role.task.arn"),
                "container_definitions": jsonencode(
                    [runtime_container.definition(spec, variant, place)]
                ),
            }
        ),
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
    return resource("aws_ecs_task_definition", where.service(variant.key), body)


def deployment_alarms(where: Region, variant: Variant) -> list[Value]:
    """The alarms that roll a deployment back: the region's API alarms and the variant's
    unhealthy targets there (observability.py builds them in every region that serves)."""
    labels = ["error_rate", "p99_latency", f"{variant.key}_unhealthy_hosts"]
    labels = [where.label(label) for label in labels]
    return [Ref(f"aws_cloudwatch_metric_alarm.{label}.alarm_name") for label in labels]


def _deployment_configuration(spec: ResolvedSpec, fleet: Fleet) -> Block:
    deployment = spec.deployment
    chosen = deployment.strategy if fleet.blue_green else "rolling"
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


def _load_balancer(spec: ResolvedSpec, where: Region, fleet: Fleet, variant: Variant) -> Block:
    label = where.service(variant.key)
    body: list[Block | dict[str, Value]] = [
        {
            "target_group_arn": Ref(f"aws_lb_target_group.{label}.arn"),
            "container_name": common.CONTAINER,
            "container_port": spec.serving.port,
        }
    ]
    if fleet.blue_green:
        body.append(
            Block(
                "advanced_configuration",
                (),
                {
                    "alternate_target_group_arn": Ref(f"aws_lb_target_group.{label}_alt.arn"),
                    "production_listener_rule": Ref("aws_lb_listener_rule.api.arn"),
                    "role_arn": Ref("aws_iam_role.ecs_load_balancers.arn"),
                },
            )
        )
    return Block("load_balancer", (), body)


def _service(spec: ResolvedSpec, where: Region, fleet: Fleet, variant: Variant) -> Block:
    label = where.service(variant.key)
    head: dict[str, Value] = {
        "name": where.service_name(variant.key),
        "cluster": Ref(f"aws_ecs_cluster.{where.main}.arn"),
        "task_definition": Ref(f"aws_ecs_task_definition.{label}.arn"),
        "desired_count": fleet.capacity.desired,
        "health_check_grace_period_seconds": model_load_grace_s(fleet),
        "enable_execute_command": False,
        "propagate_tags": "SERVICE",
        "wait_for_steady_state": False,
    }
    if fleet.platform == "fargate":
        head["platform_version"] = "LATEST"
    body: list[Block | dict[str, Value]] = [
        where.on(head),
        Block(
            "capacity_provider_strategy",
            (),
            {"capacity_provider": capacity_provider(fleet), "weight": 1, "base": 0},
        ),
        Block(
            "network_configuration",
            (),
            {
                "subnets": regional.private_subnets(where),
                "security_groups": [regional.tasks_security_group(where)],
                "assign_public_ip": False,
            },
        ),
        _load_balancer(spec, where, fleet, variant),
        Block("deployment_controller", (), {"type": "ECS"}),
        _deployment_configuration(spec, fleet),
        Block("deployment_circuit_breaker", (), {"enable": True, "rollback": True}),
        Block(
            "alarms",
            (),
            {
                "alarm_names": deployment_alarms(where, variant),
                "enable": True,
                "rollback": spec.deployment.rollback_on_alarm,
            },
        ),
        # Application Auto Scaling owns the task count once the service exists (failover
        # raises the secondary's range outside Terraform: RUNBOOK.md).
        Block("lifecycle", (), {"ignore_changes": [Expr("desired_count")]}),
        {"depends_on": _service_waits_for(where, fleet)},
    ]
    return resource("aws_ecs_service", label, body)


def _service_waits_for(where: Region, fleet: Fleet) -> list[Value]:
    """What must exist before ECS creates the service. IAM is eventually consistent: ECS
    checks the roles' permissions when the service is created (blue/green: that it may
    rewrite the listener rule), so the policies go first, not only the roles."""
    found: list[Value] = [
        Ref(f"aws_ecs_cluster_capacity_providers.{where.main}"),
        regional.listener(where),
        Ref("aws_iam_role_policy.execution"),
        Ref("aws_iam_role_policy.task"),
    ]
    if fleet.blue_green:
        found.append(Ref("aws_iam_role_policy_attachment.ecs_load_balancers"))
    return found
