"""The stack's KMS keys: their settings and key-policy statements, one shape each.

The deployment key, the DR region's key and the audit key share the spec's rotation and
deletion settings; they, the state key and the account root's Config keys are a key with
an alias that lets the account administer it, and the region keys let CloudWatch Logs and
alarms of their region use them. Each key used to spell these out again, and the DR key's
had drifted from the primary's (narrower Logs actions, a rotation period even with rotation
off). A key policy's Resource is `*` by
design: it means "this key".
"""

from __future__ import annotations

from compiler.spec.security import Kms
from compiler.terraform.hcl import Block, Ref, Template, Value, resource

from .common import ACCOUNT, ACCOUNT_ID, PARTITION, policy

# What CloudWatch Logs needs to encrypt a log group with a CMK (AWS documents this list).
LOGS_ENCRYPT = [
    "kms:Encrypt*",
    "kms:Decrypt*",
    "kms:ReEncrypt*",
    "kms:GenerateDataKey*",
    "kms:Describe*",
]


def key_settings(kms: Kms, description: Value) -> dict[str, Value]:
    """A customer-managed key's description, rotation and deletion window (spec.security.kms)."""
    body: dict[str, Value] = {"description": description, "enable_key_rotation": kms.rotation}
    if kms.rotation:
        body["rotation_period_in_days"] = kms.rotation_period_days
    body["deletion_window_in_days"] = kms.deletion_window_days
    return body


def key_with_alias(label: str, body: dict[str, Value], alias: Value) -> list[Block]:
    """An aws_kms_key and the alias people and policies address it by."""
    target = {"name": alias, "target_key_id": Ref(f"aws_kms_key.{label}.key_id")}
    return [resource("aws_kms_key", label, body), resource("aws_kms_alias", label, target)]


def account_administers() -> dict[str, Value]:
    """Delegates to IAM: roles of this account use the key only where their IAM policies
    allow it (the task and execution roles name this one key)."""
    return {
        "Sid": "AccountAdministersTheKey",
        "Effect": "Allow",
        "Principal": {"AWS": Template(f"arn:{PARTITION}:iam::{ACCOUNT}:root")},
        "Action": "kms:*",
        "Resource": "*",
    }


LOGS_SID = "CloudWatchLogsEncryptsThisAccountsLogGroups"


def logs_encrypt(region: str, sid: str = LOGS_SID) -> dict[str, Value]:
    """CloudWatch Logs of `region` encrypts this account's log groups there."""
    log_groups = f"arn:{PARTITION}:logs:{region}:{ACCOUNT}:log-group:*"
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"Service": f"logs.{region}.amazonaws.com"},
        "Action": LOGS_ENCRYPT,
        "Resource": "*",
        "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": Template(log_groups)}},
    }


def alarms_publish() -> dict[str, Value]:
    """Alarms of this account publish to the region's KMS-encrypted alarm topic."""
    return {
        "Sid": "CloudWatchAlarmsPublishToTheEncryptedTopic",
        "Effect": "Allow",
        "Principal": {"Service": "cloudwatch.amazonaws.com"},
        "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
        "Resource": "*",
        "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID}},
    }


def region_key_policy(region: str, *extra: dict[str, Value]) -> dict[str, Value]:
    """A region's deployment key (primary or DR): the account, logs and alarms there."""
    return policy(account_administers(), logs_encrypt(region), alarms_publish(), *extra)
