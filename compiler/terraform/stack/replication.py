"""S3 replication into the DR region: the models and audit buckets, the role S3 replicates
with, and an alarm per replication when objects fail to arrive. DR-only: nothing here has a
counterpart in the primary region."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from compiler.spec import ResolvedSpec
from compiler.terraform.hcl import Block, Expr, Ref, Template, Value, resource

from . import common
from .buckets import document
from .cloudwatch import alarm, on_any_event
from .common import ACCOUNT_ID, PARTITION
from .dr_plan import (
    RTC_MINUTES,
    audit_replica_name,
    models_replica_name,
    secondary_key_arn,
    uses_rtc,
)


def blocks(spec: ResolvedSpec) -> list[Block]:
    pairs = replication_pairs(spec)
    found = _replication_role(spec, pairs)
    found += [_replication(spec, pair) for pair in pairs]
    found += [_replication_alarm(spec, pair) for pair in pairs]
    return found


@dataclass(frozen=True)
class ReplicationPair:
    """A source bucket in the primary region and its replica in the secondary.

    One label names the source bucket and its replication configuration; the replica's
    bucket label is the same with `_replica`.
    """

    label: str  # of the source's aws_s3_bucket and its replication configuration
    source_name: str  # bucket name template
    source_key_arn: Expr
    replica_name: str
    object_lock: bool = False

    @property
    def replica(self) -> str:
        return f"{self.label}_replica"


def replication_pairs(spec: ResolvedSpec) -> list[ReplicationPair]:
    """Model bucket always (for DR); the audit bucket too when audit logs are written."""
    main_key, audit_key = Ref("aws_kms_key.main.arn"), Ref("aws_kms_key.audit.arn")
    pairs = [ReplicationPair("models", common.MODELS_BUCKET, main_key, models_replica_name())]
    if common.has_audit_bucket(spec):
        locked = common.audit_lock_mode(spec) is not None
        audit = ReplicationPair(
            "audit", common.AUDIT_BUCKET, audit_key, audit_replica_name(), locked
        )
        pairs.append(audit)
    return pairs


def _pair_statements(pair: ReplicationPair) -> list[dict[str, Value]]:
    """Read the source's versions, write the replica's objects: this pair's buckets only."""
    source = f"arn:{PARTITION}:s3:::{pair.source_name}"
    replica = f"arn:{PARTITION}:s3:::{pair.replica_name}"
    read = [
        "s3:GetObjectVersionForReplication",
        "s3:GetObjectVersionAcl",
        "s3:GetObjectVersionTagging",
    ]
    if pair.object_lock:
        read += ["s3:GetObjectRetention", "s3:GetObjectLegalHold"]
    return [
        {
            "Sid": f"Read{pair.label.capitalize()}Configuration",
            "Effect": "Allow",
            "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"],
            "Resource": source,
        },
        {
            "Sid": f"Read{pair.label.capitalize()}Versions",
            "Effect": "Allow",
            "Action": read,
            "Resource": f"{source}/*",
        },
        {
            "Sid": f"Write{pair.label.capitalize()}Replica",
            "Effect": "Allow",
            "Action": ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
            "Resource": f"{replica}/*",
        },
    ]


def _replication_role(spec: ResolvedSpec, pairs: Sequence[ReplicationPair]) -> list[Block]:
    statements = [stmt for pair in pairs for stmt in _pair_statements(pair)]
    statements += [
        {
            "Sid": "DecryptSource",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": [pair.source_key_arn for pair in pairs],
            "Condition": {"StringEquals": {"kms:ViaService": f"s3.{spec.region}.amazonaws.com"}},
        },
        {
            "Sid": "EncryptReplica",
            "Effect": "Allow",
            "Action": ["kms:Encrypt", "kms:GenerateDataKey"],
            "Resource": secondary_key_arn(spec),
            "Condition": {
                "StringEquals": {"kms:ViaService": f"s3.{spec.dr.secondary_region}.amazonaws.com"}
            },
        },
    ]
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID}},
            }
        ],
    }
    return [
        resource(
            "aws_iam_role",
            "replication",
            {
                "name": Template("${local.name}-s3-replication"),
                "description": "S3 replication of model artifacts and audit logs to the DR region",
                "assume_role_policy": document(trust),
            },
        ),
        resource(
            "aws_iam_role_policy",
            "replication",
            {
                "name": "replicate-to-secondary",
                "role": Ref("aws_iam_role.replication.id"),
                "policy": document({"Version": "2012-10-17", "Statement": statements}),
            },
        ),
    ]


def _replication(spec: ResolvedSpec, pair: ReplicationPair) -> Block:
    destination: list[object] = [
        {
            "bucket": Ref(f"aws_s3_bucket.{pair.replica}.arn"),
            "storage_class": "STANDARD",
        },
        Block("encryption_configuration", (), {"replica_kms_key_id": secondary_key_arn(spec)}),
    ]
    # Replication metrics feed the failed-replication alarm, with or without RTC; the
    # missed-threshold event (event_threshold) exists only with Replication Time Control,
    # and S3 refuses it without (the Metrics API marks EventThreshold optional).
    metrics: list[Block | dict[str, Value]] = [{"status": "Enabled"}]
    if uses_rtc(spec):
        destination.append(
            Block(
                "replication_time",
                (),
                [{"status": "Enabled"}, Block("time", (), {"minutes": RTC_MINUTES})],
            )
        )
        metrics.append(Block("event_threshold", (), {"minutes": RTC_MINUTES}))
    destination.append(Block("metrics", (), metrics))
    rule = Block(
        "rule",
        (),
        [
            {"id": "to-secondary", "status": "Enabled"},
            Block("filter", (), {}),
            # A delete in the primary must not reach the DR copy.
            Block("delete_marker_replication", (), {"status": "Disabled"}),
            Block(
                "source_selection_criteria",
                (),
                [Block("sse_kms_encrypted_objects", (), {"status": "Enabled"})],
            ),
            Block("destination", (), destination),  # type: ignore[arg-type]
        ],
    )
    return resource(
        "aws_s3_bucket_replication_configuration",
        pair.label,
        [
            {
                "bucket": Ref(f"aws_s3_bucket.{pair.label}.id"),
                "role": Ref("aws_iam_role.replication.arn"),
            },
            rule,
            {
                "depends_on": [
                    Ref(f"aws_s3_bucket_versioning.{pair.label}"),
                    Ref(f"aws_s3_bucket_versioning.{pair.replica}"),
                ]
            },
        ],
    )


def _replication_alarm(spec: ResolvedSpec, pair: ReplicationPair) -> Block:
    return alarm(
        f"replication_{pair.label}",
        {
            "alarm_name": Template(f"${{local.name}}-{pair.label}-replication-failed"),
            "alarm_description": (
                f"Objects of the {pair.label} bucket failed to replicate to "
                f"{spec.dr.secondary_region}: the DR copy is behind (RPO "
                f"{spec.dr.rpo_minutes} min at risk). See RUNBOOK.md, 'Replication failing'."
            ),
            "namespace": "AWS/S3",
            "metric_name": "OperationsFailedReplication",
            "dimensions": {
                "SourceBucket": Ref(f"aws_s3_bucket.{pair.label}.bucket"),
                "DestinationBucket": Ref(f"aws_s3_bucket.{pair.replica}.bucket"),
                "RuleId": "to-secondary",
            },
            **on_any_event(300),
        },
    )
