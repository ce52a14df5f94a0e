"""The audit key: CloudTrail's own CMK, which the application's roles cannot use, so a
compromised task can neither read nor forge the trail."""

from __future__ import annotations

from compiler.spec import ResolvedSpec
from compiler.terraform.hcl import Block, Template, Value

from . import buckets, common, kms_keys
from .common import ACCOUNT, PARTITION


def trail_arn(spec: ResolvedSpec) -> str:
    return f"arn:{PARTITION}:cloudtrail:{spec.region}:{ACCOUNT}:trail/${{local.name}}"


def _statements(spec: ResolvedSpec) -> list[dict[str, Value]]:
    statements: list[dict[str, Value]] = [
        kms_keys.account_administers(),
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
        kms_keys.logs_encrypt(spec.region, "CloudWatchLogsEncryptsTheTrailLogGroup"),
    ]
    return statements


def blocks(spec: ResolvedSpec) -> list[Block]:
    description = Template("${local.name}: audit records (CloudTrail, AWS Config)")
    body = {
        **kms_keys.key_settings(spec.security.kms, description),
        "policy": buckets.document(common.policy(*_statements(spec))),
    }
    return kms_keys.key_with_alias("audit", body, Template("alias/${local.name}-audit"))
