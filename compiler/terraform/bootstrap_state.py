"""state.tf of the bootstrap: the KMS key and versioned bucket every environment's S3
backend names, its access-log bucket, and the fences that keep each environment's state to
its own GitHub roles."""

from __future__ import annotations

from compiler.spec import ResolvedSpec
from compiler.terraform.hcl import Block, Comment, Ref, Template, Value, jsonencode, resource, skip
from compiler.terraform.stack import common, contract, kms_keys, storage
from compiler.terraform.stack.buckets import (
    access_log_bucket_skips,
    kms_default_rule,
    lifecycle_rule,
    s3_access_logs_statement,
    sse_s3_rule,
    tls_only_statement,
)

STATE_LABEL = "state"
STATE_LOGS_LABEL = "state_logs"


def bucket_arn(local: str) -> str:
    return f"arn:{common.PARTITION}:s3:::${{local.{local}}}"


def _tls_only(local: str) -> dict[str, Value]:
    return tls_only_statement(f"${{local.{local}}}")


def _bucket(
    label: str, local: str, sse: Block, skips: list[Comment], sse_skips: list[Comment]
) -> list[Block]:
    # Old state versions are the undo history of every apply: keep them a year.
    lifecycle = lifecycle_rule("old-versions", noncurrent_days=contract.STATE_VERSIONS_DAYS)
    return [
        resource(
            "aws_s3_bucket",
            label,
            [*skips, {"bucket": Ref(f"local.{local}"), "force_destroy": False}],
        ),
        *storage.bucket_settings(label, sse, [lifecycle], sse_skips),
    ]


def _state_fences(envs: tuple[ResolvedSpec, ...]) -> list[dict[str, Value]]:
    """Each environment's state is readable only by its own GitHub roles: ReadOnlyAccess on a
    plan role would otherwise read every environment's state (secrets included)."""
    fences: list[dict[str, Value]] = []
    for spec in envs:
        roles = f"arn:{common.PARTITION}:iam::*:role/{spec.metadata.name}"
        fences.append(
            {
                "Sid": f"OnlyTheGitHubRolesOf{spec.environment.title().replace('-', '')}",
                "Effect": "Deny",
                "Principal": "*",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                "Resource": Template(
                    f"{bucket_arn('state_bucket')}/{spec.metadata.name}/{spec.environment}/*"
                ),
                "Condition": {
                    "ArnLike": {"aws:PrincipalArn": Template(f"{roles}-*-github-*")},
                    "ArnNotLike": {
                        "aws:PrincipalArn": Template(f"{roles}-{spec.environment}-github-*")
                    },
                },
            }
        )
    return fences


def blocks(envs: tuple[ResolvedSpec, ...]) -> list[Block]:
    return [*_key(envs[0]), *_state_bucket(envs), *_logs_bucket()]


def _key(spec: ResolvedSpec) -> list[Block]:
    key_policy = common.policy(kms_keys.account_administers())
    body: dict[str, Value] = {
        "description": Template("${local.name}: Terraform state"),
        # Always rotated, whatever the spec says of the stack's keys: state outlives them.
        "enable_key_rotation": True,
        "rotation_period_in_days": spec.security.kms.rotation_period_days,
        "deletion_window_in_days": spec.security.kms.deletion_window_days,
        "policy": jsonencode(key_policy),
    }
    return kms_keys.key_with_alias("state", body, common.state_key_alias(spec))


def _state_bucket(envs: tuple[ResolvedSpec, ...]) -> list[Block]:
    kms_sse = kms_default_rule(Ref("aws_kms_key.state.arn"))
    replication = skip(
        "CKV_AWS_144",
        "AWS: S3 versioning keeps every state version; the state is rebuilt from the "
        "repository and the stack itself, so it is not copied to another region",
    )
    return [
        *_bucket(STATE_LABEL, "state_bucket", kms_sse, [replication], []),
        resource(
            "aws_s3_bucket_logging",
            STATE_LABEL,
            {
                "bucket": Ref("aws_s3_bucket.state.id"),
                "target_bucket": Ref("aws_s3_bucket.state_logs.id"),
                "target_prefix": "s3-access/state/",
            },
        ),
        resource(
            "aws_s3_bucket_policy",
            STATE_LABEL,
            {
                "bucket": Ref("aws_s3_bucket.state.id"),
                "policy": jsonencode(
                    common.policy(_tls_only("state_bucket"), *_state_fences(envs))
                ),
                "depends_on": [Ref("aws_s3_bucket_public_access_block.state")],
            },
        ),
    ]


def _logs_bucket() -> list[Block]:
    s3_sse = sse_s3_rule()
    return [
        *_bucket(
            STATE_LOGS_LABEL,
            "state_logs_bucket",
            s3_sse,
            [
                *access_log_bucket_skips(alb=False),
                skip(
                    "CKV_AWS_144",
                    "AWS: access logs are operational records of the state bucket's region",
                ),
            ],
            [storage.sse_s3_skip()],
        ),
        resource(
            "aws_s3_bucket_policy",
            STATE_LOGS_LABEL,
            {
                "bucket": Ref("aws_s3_bucket.state_logs.id"),
                "policy": jsonencode(
                    common.policy(
                        _tls_only("state_logs_bucket"),
                        s3_access_logs_statement(f"{bucket_arn('state_logs_bucket')}/*"),
                    )
                ),
                "depends_on": [Ref("aws_s3_bucket_public_access_block.state_logs")],
            },
        ),
    ]
