"""iam.tf: the roles the stack's services assume, each allowed exactly what it needs.

IAM is global: the secondary region's tasks assume the same execution and task roles as the
primary's, whose statements name each serving region's repository, log group, key, secret
and model bucket (regional.py). One role per job means a permission added for the task
(experiment.tf's capture writes) reaches both regions' tasks.

Policies are inline documents of literals and locals (no computed ARNs), so checkov reads
them. The primary's key is named through its alias (`kms:ResourceAliases`), whose name is
known before the key exists; the secondary's key has no alias and is named by its ARN.
"""

from __future__ import annotations

from compiler.spec import ResolvedSpec
from compiler.terraform.hcl import Block, Ref, Template, Value, jsonencode, resource
from compiler.terraform.plan import Plan

from . import common, regional
from .region import Region


def blocks(p: Plan) -> list[Block]:
    found = [
        _role("execution", "ecs-tasks.amazonaws.com", "ECS agent: pull the image, write logs"),
        _inline("execution", "pull-log-read-secret", _execution_policy(p)),
        _role("task", "ecs-tasks.amazonaws.com", "Model server: read the model, put metrics"),
        _inline("task", "read-model-put-metrics", _task_policy(p)),
    ]
    if p.blue_green:
        found += [
            _role(
                "ecs_load_balancers",
                "ecs.amazonaws.com",
                "ECS blue/green: shift listener weights between target groups",
            ),
            _managed("ecs_load_balancers", "AmazonECSInfrastructureRolePolicyForLoadBalancers"),
        ]
    if p.spec.compute.platform == "ec2":
        found += [
            _role("ecs_instance", "ec2.amazonaws.com", "ECS container instances", account=False),
            _managed("ecs_instance", "service-role/AmazonEC2ContainerServiceforEC2Role"),
            resource(
                "aws_iam_instance_profile",
                "ecs",
                {
                    "name": Template("${local.name}-ecs-instance"),
                    "role": Ref("aws_iam_role.ecs_instance.name"),
                },
            ),
        ]
    return found


def _role(label: str, service: str, description: str, account: bool = True) -> Block:
    return resource(
        "aws_iam_role",
        label,
        {
            "name": Template(f"${{local.name}}-{label.replace('_', '-')}"),
            "description": description,
            "assume_role_policy": jsonencode(common.assume_role(service, source_account=account)),
        },
    )


def _inline(label: str, name: str, document: dict[str, Value]) -> Block:
    return resource(
        "aws_iam_role_policy",
        label,
        {"name": name, "role": Ref(f"aws_iam_role.{label}.id"), "policy": jsonencode(document)},
    )


def _managed(label: str, policy: str) -> Block:
    return resource(
        "aws_iam_role_policy_attachment",
        label,
        {
            "role": Ref(f"aws_iam_role.{label}.name"),
            "policy_arn": Template(f"arn:{common.PARTITION}:iam::aws:policy/{policy}"),
        },
    )


def _serving_regions(p: Plan) -> list[Region]:
    """The regions whose tasks assume the roles: IAM is global, so the secondary's tasks
    assume the primary's two roles, and their statements name each region's resources."""
    return [where for where, _ in regional.fleets(p)]


def _each(resources: list[Value]) -> Value:
    """The statement's Resource: a string for one region (as it always was), else a list."""
    return resources[0] if len(resources) == 1 else resources


def decrypt_with_the_key(spec: ResolvedSpec, where: Region) -> dict[str, Value]:
    """Decrypt with the region's key: the primary's by its alias (known before the key
    exists); the secondary's key or replica has no alias, so its ARN."""
    if where.secondary:
        return common.statement(
            "DecryptWithTheSecondaryKey", ["kms:Decrypt"], regional.key_arn(spec, where)
        )
    return common.statement(
        "DecryptWithTheDeploymentKey",
        ["kms:Decrypt"],
        common.arn("kms", "key/*", where.name),
        {"ForAnyValue:StringEquals": {"kms:ResourceAliases": Template("alias/${local.name}")}},
    )


def _execution_policy(p: Plan) -> dict[str, Value]:
    spec = p.spec
    regions = _serving_regions(p)
    found = [
        # GetAuthorizationToken has no resource type: AWS accepts only "*" for it.
        common.statement("EcrLogin", ["ecr:GetAuthorizationToken"], "*"),
        common.statement(
            "PullTheRuntimeImage",
            ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            # Registry replication keeps the repository's name in the secondary.
            _each([common.arn("ecr", "repository/${local.name}", r.name) for r in regions]),
        ),
        common.statement(
            "WriteTheRuntimeLogGroup",
            ["logs:CreateLogStream", "logs:PutLogEvents"],
            _each([_runtime_log_streams(spec, r) for r in regions]),
        ),
        *(decrypt_with_the_key(spec, r) for r in regions),
    ]
    if p.api_keys:
        found.append(read_the_api_keys(spec, regions))
    return common.policy(*found)


def _runtime_log_streams(spec: ResolvedSpec, where: Region) -> Template:
    group = regional.log_group_name(spec, where, "runtime")
    return common.arn("logs", f"log-group:{group}:log-stream:*", where.name)


def read_the_api_keys(spec: ResolvedSpec, regions: list[Region]) -> dict[str, Value]:
    # Secrets Manager appends six random characters to the secret's ARN; the secondary's
    # replica keeps the name.
    secret = f"secret:{common.API_KEYS_SECRET}-??????"
    return common.statement(
        "ReadTheApiKeys",
        ["secretsmanager:GetSecretValue"],
        _each([common.arn("secretsmanager", secret, r.name) for r in regions]),
    )


def _task_policy(p: Plan) -> dict[str, Value]:
    spec = p.spec
    regions = _serving_regions(p)
    buckets = [f"arn:{common.PARTITION}:s3:::{regional.models_bucket(r)}" for r in regions]
    prefix = p.model_prefix
    # The runtime re-reads the API keys itself (runtime/auth.py): ECS injects them only at start.
    keys = [read_the_api_keys(spec, regions)] if p.api_keys else []
    return common.policy(
        *keys,
        common.statement(
            "ReadTheModelArtifacts",
            ["s3:GetObject"],
            _each([Template(f"{bucket}/{prefix}*") for bucket in buckets]),
        ),
        common.statement(
            "ListTheModelPrefix",
            ["s3:ListBucket"],
            _each([Template(bucket) for bucket in buckets]),
            {"StringLike": {"s3:prefix": [f"{prefix}*"]}},
        ),
        *(decrypt_with_the_key(spec, r) for r in regions),
        # PutMetricData has no resource type; the namespace condition is its scope.
        common.statement(
            "PutMetricsInTheDeploymentNamespace",
            ["cloudwatch:PutMetricData"],
            "*",
            {"StringEquals": {"cloudwatch:namespace": spec.metrics_namespace}},
        ),
    )
