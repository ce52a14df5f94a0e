"""iam.tf: the roles the stack's services assume, each allowed exactly what it needs.

Policies are inline documents of literals and locals (no computed ARNs), so checkov reads
them. The one key is named through its alias (`kms:ResourceAliases`), whose name is known
before the key exists.
"""

from __future__ import annotations

from compiler.spec import ResolvedSpec
from compiler.terraform.hcl import Block, Ref, Template, Value, jsonencode, resource
from compiler.terraform.plan import api_keys, blue_green, model_prefix

from . import common


def blocks(spec: ResolvedSpec) -> list[Block]:
    found = [
        _role("execution", "ecs-tasks.amazonaws.com", "ECS agent: pull the image, write logs"),
        _inline("execution", "pull-log-read-secret", _execution_policy(spec)),
        _role("task", "ecs-tasks.amazonaws.com", "Model server: read the model, put metrics"),
        _inline("task", "read-model-put-metrics", _task_policy(spec)),
    ]
    if blue_green(spec):
        found += [
            _role(
                "ecs_load_balancers",
                "ecs.amazonaws.com",
                "ECS blue/green: shift listener weights between target groups",
            ),
            _managed("ecs_load_balancers", "AmazonECSInfrastructureRolePolicyForLoadBalancers"),
        ]
    if spec.compute.platform == "ec2":
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


def decrypt_with_the_key(spec: ResolvedSpec) -> dict[str, Value]:
    return common.statement(
        "DecryptWithTheDeploymentKey",
        ["kms:Decrypt"],
        common.arn("kms", "key/*", spec.region),
        {"ForAnyValue:StringEquals": {"kms:ResourceAliases": Template("alias/${local.name}")}},
    )


def _execution_policy(spec: ResolvedSpec) -> dict[str, Value]:
    group = common.log_group_names(spec)["runtime"]
    found = [
        # GetAuthorizationToken has no resource type: AWS accepts only "*" for it.
        common.statement("EcrLogin", ["ecr:GetAuthorizationToken"], "*"),
        common.statement(
            "PullTheRuntimeImage",
            ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            common.arn("ecr", "repository/${local.name}", spec.region),
        ),
        common.statement(
            "WriteTheRuntimeLogGroup",
            ["logs:CreateLogStream", "logs:PutLogEvents"],
            common.log_group_arn(spec, f"{group}:log-stream:*"),
        ),
        decrypt_with_the_key(spec),
    ]
    if api_keys(spec):
        found.append(read_the_api_keys(spec))
    return common.policy(*found)


def read_the_api_keys(spec: ResolvedSpec) -> dict[str, Value]:
    # Secrets Manager appends six random characters to the secret's ARN.
    return common.statement(
        "ReadTheApiKeys",
        ["secretsmanager:GetSecretValue"],
        common.arn("secretsmanager", f"secret:{common.API_KEYS_SECRET}-??????", spec.region),
    )


def _task_policy(spec: ResolvedSpec) -> dict[str, Value]:
    bucket = f"arn:{common.PARTITION}:s3:::{common.MODELS_BUCKET}"
    prefix = model_prefix(spec)
    # The runtime re-reads the API keys itself (runtime/auth.py): ECS injects them only at start.
    keys = [read_the_api_keys(spec)] if api_keys(spec) else []
    return common.policy(
        *keys,
        common.statement(
            "ReadTheModelArtifacts", ["s3:GetObject"], Template(f"{bucket}/{prefix}*")
        ),
        common.statement(
            "ListTheModelPrefix",
            ["s3:ListBucket"],
            Template(bucket),
            {"StringLike": {"s3:prefix": [f"{prefix}*"]}},
        ),
        decrypt_with_the_key(spec),
        # PutMetricData has no resource type; the namespace condition is its scope.
        common.statement(
            "PutMetricsInTheDeploymentNamespace",
            ["cloudwatch:PutMetricData"],
            "*",
            {"StringEquals": {"cloudwatch:namespace": spec.metrics_namespace}},
        ),
    )
