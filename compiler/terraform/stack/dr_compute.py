"""The secondary region's service (pilot light and up): task roles, and one Fargate
service sized by the DR strategy. Its load balancer and certificate are the primary's,
built for the secondary region by load_balancer.region_blocks (load_balancer.tf).

The service runs on Fargate even when the primary uses EC2: a GPU fleet per region is the
core stack's job, and onnxruntime serves the same artifact on CPU.
"""

from __future__ import annotations

from compiler.spec import ResolvedSpec
from compiler.terraform.hcl import Block, Ref, Template, Value, resource
from compiler.terraform.plan import api_keys, model_prefix

from . import common, dr_service
from .buckets import document
from .common import PARTITION
from .dr_plan import (
    Capacity,
    log_arn,
    models_replica_name,
    secondary_key_arn,
    secondary_log_groups,
)
from .dr_service import fargate_memory, secret_replica_arn


def _roles(spec: ResolvedSpec) -> list[Block]:
    found: list[Block] = []
    for label, service, statements in (
        ("execution_secondary", "ecs-tasks.amazonaws.com", _execution_statements(spec)),
        ("task_secondary", "ecs-tasks.amazonaws.com", _task_statements(spec)),
    ):
        found += [
            resource(
                "aws_iam_role",
                label,
                {
                    "name": Template(f"${{local.name}}-dr-{label.removesuffix('_secondary')}"),
                    "assume_role_policy": document(common.assume_role(service)),
                },
            ),
            resource(
                "aws_iam_role_policy",
                label,
                {
                    "name": label.removesuffix("_secondary"),
                    "role": Ref(f"aws_iam_role.{label}.id"),
                    "policy": document(common.policy(*statements)),
                },
            ),
        ]
    return found


def _execution_statements(spec: ResolvedSpec) -> list[dict[str, Value]]:
    """The ECS agent in the secondary: pull the image, write logs, read the key replica."""
    group = secondary_log_groups(spec)["runtime_secondary"]
    execution = [
        common.statement(
            "PullTheImage",
            ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            "${aws_ecr_repository.runtime_secondary.arn}",
        ),
        common.statement("AuthenticateToEcr", ["ecr:GetAuthorizationToken"], "*"),
        common.statement(
            "WriteLogs",
            ["logs:CreateLogStream", "logs:PutLogEvents"],
            log_arn(spec, f"{group}:log-stream:*"),
        ),
    ]
    if api_keys(spec):
        via = f"secretsmanager.{spec.dr.secondary_region}.amazonaws.com"
        execution += [
            common.statement(
                "ReadTheApiKeys",
                ["secretsmanager:GetSecretValue"],
                secret_replica_arn(spec),
            ),
            common.statement(
                "DecryptTheApiKeys",
                ["kms:Decrypt"],
                secondary_key_arn(spec),
                {"StringEquals": {"kms:ViaService": via}},
            ),
        ]
    return execution


def _task_statements(spec: ResolvedSpec) -> list[dict[str, Value]]:
    """The model server in the secondary: read the model replica, put its metrics, and (with
    API keys) re-read the key replica itself (runtime/auth.py), by the replica's ARN pattern
    (Secrets Manager appends six random characters)."""
    replica = f"arn:{PARTITION}:s3:::{models_replica_name()}"
    region = str(spec.dr.secondary_region)
    via = [f"s3.{region}.amazonaws.com"]
    keys = []
    if api_keys(spec):
        via.append(f"secretsmanager.{region}.amazonaws.com")
        keys.append(
            common.statement(
                "ReadTheApiKeys",
                ["secretsmanager:GetSecretValue"],
                common.arn("secretsmanager", f"secret:{common.API_KEYS_SECRET}-??????", region),
            )
        )
    return [
        common.statement(
            "ListTheModelPrefix",
            ["s3:ListBucket"],
            replica,
            {"StringLike": {"s3:prefix": [f"{model_prefix(spec)}*"]}},
        ),
        common.statement("ReadTheModel", ["s3:GetObject"], f"{replica}/{model_prefix(spec)}*"),
        common.statement(
            "DecryptTheModel" + ("AndTheApiKeys" if keys else ""),
            ["kms:Decrypt"],
            secondary_key_arn(spec),
            {"StringEquals": {"kms:ViaService": via if keys else via[0]}},
        ),
        common.statement(
            "PutRuntimeMetrics",
            ["cloudwatch:PutMetricData"],
            "*",
            {"StringEquals": {"cloudwatch:namespace": spec.metrics_namespace}},
        ),
        *keys,
    ]


def blocks(spec: ResolvedSpec, capacity: Capacity) -> list[Block]:
    return [
        *_roles(spec),
        *dr_service.blocks(spec, capacity),
    ]


__all__ = ["blocks", "fargate_memory", "secret_replica_arn"]
