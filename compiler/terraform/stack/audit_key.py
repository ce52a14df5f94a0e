"""The audit key: CloudTrail's own CMK, which the application's roles cannot use, so a
compromised task can neither read nor forge the trail."""

from __future__ import annotations

from compiler.spec import ResolvedSpec
from compiler.terraform.hcl import Block, Ref, Template, Value, resource

from . import buckets, common
from .common import ACCOUNT, PARTITION


def trail_arn(spec: ResolvedSpec) -> str:
    return f"arn:{PARTITION}:cloudtrail:{spec.region}:{ACCOUNT}:trail/${{local.name}}"


def _statements(spec: ResolvedSpec) -> list[dict[str, Value]]:
    logs = f"arn:{PARTITION}:logs:{spec.region}:{ACCOUNT}:log-group:*"
    statements: list[dict[str, Value]] = [
        {
            "Sid": "AccountAdministersTheKey",
            "Effect": "Allow",
            "Principal": {"AWS": Template(f"arn:{PARTITION}:iam::{ACCOUNT}:root")},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            "Sid": "CloudTrailEncryptsThisAccountsTrails",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "kms:GenerateDataKey*",
            "Resource": "*",
            "Condition": {
                "StringEquals": {"aws:SourceArn": Template(trail_arn(spec))},
                "StringLike": {
                    "kms:EncryptionContext:aws:cloudtrail:arn": Template(
                        f"arn:{PARTITION}:cloudtrail:*:{ACCOUNT}:trail/*"
                    )
                },
            },
        },
        {
            "Sid": "CloudTrailDescribesTheKey",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "kms:DescribeKey",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceArn": Template(trail_arn(spec))}},
        },
        {
            # The trail's notification topic is encrypted with this key.
            "Sid": "CloudTrailPublishesToTheEncryptedTopic",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceArn": Template(trail_arn(spec))}},
        },
        {
            "Sid": "CloudWatchLogsEncryptsTheTrailLogGroup",
            "Effect": "Allow",
            "Principal": {"Service": f"logs.{spec.region}.amazonaws.com"},
            "Action": [
                "kms:Encrypt*",
                "kms:Decrypt*",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
                "kms:Describe*",
            ],
            "Resource": "*",
            "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": Template(logs)}},
        },
    ]
    return statements


def blocks(spec: ResolvedSpec) -> list[Block]:
    kms = spec.security.kms
    statements = _statements(spec)
    body: dict[str, Value] = {
        "description": Template("${local.name}: audit records (CloudTrail, AWS Config)"),
        "enable_key_rotation": kms.rotation,
    }
    if kms.rotation:
        body["rotation_period_in_days"] = kms.rotation_period_days
    body |= {
        "deletion_window_in_days": kms.deletion_window_days,
        "policy": buckets.document(common.policy(*statements)),
    }
    return [
        resource("aws_kms_key", "audit", body),
        resource(
            "aws_kms_alias",
            "audit",
            {
                "name": Template("alias/${local.name}-audit"),
                "target_key_id": Ref("aws_kms_key.audit.key_id"),
            },
        ),
    ]
