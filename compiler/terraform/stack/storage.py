"""storage.tf: the model-artifact bucket (KMS, versioned, private, TLS-only) and the log
bucket that receives ALB and S3 access logs."""

from __future__ import annotations

from compiler.spec import ResolvedSpec
from compiler.terraform.hcl import Block, Comment, Ref, Template, Value, jsonencode, resource, skip
from compiler.terraform.plan import Plan, replicates

from . import common
from .buckets import (
    access_log_bucket_skips,
    alb_access_logs_statements,
    bucket_settings,
    kms_default_rule,
    lifecycle_rule,
    s3_access_logs_statement,
    sse_s3_rule,
    sse_s3_skip,
    tls_only_statement,
)
from .common import LOGS_BUCKET, MODELS_BUCKET, artifact_uri, model_prefix

__all__ = [
    "LOGS_BUCKET",
    "MODELS_BUCKET",
    "artifact_uri",
    "blocks",
    "bucket_settings",
    "model_prefix",
    "sse_s3_skip",
]


def blocks(p: Plan) -> list[Block]:
    spec = p.spec
    return [*_models(spec), *_logs(spec)]


def replication_skips(spec: ResolvedSpec) -> list[Comment]:
    """Why the model bucket has no cross-region replication: the spec asks for no DR. With
    DR, dr.tf replicates it (and checkov then checks that for real)."""
    if replicates(spec):
        return []
    reason = f"dr.strategy is {spec.dr.strategy}: the spec asks for no copy outside {spec.region}"
    return [skip("CKV_AWS_144", reason)]


def _models(spec: ResolvedSpec) -> list[Block]:
    retention = spec.backups.retention_days
    sse = kms_default_rule(Ref("aws_kms_key.main.arn"))
    # Overwritten or deleted artifacts stay recoverable for backups.retention_days.
    lifecycle = [lifecycle_rule("noncurrent-versions", noncurrent_days=retention)]
    return [
        resource(
            "aws_s3_bucket",
            "models",
            [
                *replication_skips(spec),
                {"bucket": Template(MODELS_BUCKET), "force_destroy": False},
            ],
        ),
        *bucket_settings("models", sse, lifecycle, []),
        resource(
            "aws_s3_bucket_logging",
            "models",
            {
                "bucket": Ref("aws_s3_bucket.models.id"),
                "target_bucket": Ref("aws_s3_bucket.logs.id"),
                "target_prefix": "s3-access/models/",
            },
        ),
        resource(
            "aws_s3_bucket_policy",
            "models",
            {
                "bucket": Ref("aws_s3_bucket.models.id"),
                "policy": jsonencode(common.policy(tls_only_statement(MODELS_BUCKET))),
                "depends_on": [Ref("aws_s3_bucket_public_access_block.models")],
            },
        ),
    ]


def _logs(spec: ResolvedSpec) -> list[Block]:
    days = spec.observability.log_retention_days
    sse = sse_s3_rule()
    # Access logs are kept as long as the spec keeps every other log.
    lifecycle = [lifecycle_rule("expire-logs", expire_days=days, noncurrent_days=1)]
    return [
        resource(
            "aws_s3_bucket",
            "logs",
            [
                *access_log_bucket_skips(alb=True),
                skip(
                    "CKV_AWS_144",
                    f"access logs are operational records kept {days} days "
                    "(observability.log_retention_days) in the region that produced them",
                ),
                {"bucket": Template(LOGS_BUCKET), "force_destroy": False},
            ],
        ),
        *bucket_settings("logs", sse, lifecycle, [sse_s3_skip()]),
        resource(
            "aws_s3_bucket_policy",
            "logs",
            {
                "bucket": Ref("aws_s3_bucket.logs.id"),
                "policy": jsonencode(_log_delivery_policy(spec)),
                "depends_on": [Ref("aws_s3_bucket_public_access_block.logs")],
            },
        ),
    ]


def _log_delivery_policy(spec: ResolvedSpec) -> dict[str, Value]:
    bucket = f"arn:{common.PARTITION}:s3:::{LOGS_BUCKET}"
    return common.policy(
        tls_only_statement(LOGS_BUCKET),
        *alb_access_logs_statements(bucket, Ref("data.aws_elb_service_account.main.arn")),
        s3_access_logs_statement(f"{bucket}/s3-access/*"),
    )
