"""S3 replication between the regions: the models and audit buckets into the DR region, the
DR region's capture bucket back into the primary's (the learning loop reads one bucket),
the role S3 replicates with, and an alarm per replication when objects fail to arrive.
DR-only: nothing here has a counterpart in the primary region."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from compiler.spec import ResolvedSpec
from compiler.terraform.hcl import Block, Expr, Ref, Template, Value, resource

from . import capture, common, region
from .buckets import document
from .cloudwatch import alarm, on_any_event
from .common import ACCOUNT_ID, PARTITION
from .dr_plan import (
    RTC_MINUTES,
    SECONDARY,
    audit_replica_name,
    models_replica_name,
    secondary_key_arn,
    uses_rtc,
)
from .region import Region


def blocks(spec: ResolvedSpec) -> list[Block]:
    pairs = replication_pairs(spec)
    found = _replication_role(spec, pairs)
    found += [_replication(spec, pair) for pair in pairs]
    found += [_replication_alarm(spec, pair) for pair in pairs]
    return found


@dataclass(frozen=True)
class ReplicationPair:
    """A source bucket and its replica in the other region: the primary's into the
    secondary, or (`into_primary`) the secondary's capture bucket into the primary's.

    One label names the source bucket and its replication configuration; the replica's
    bucket label is the same with `_replica` unless `replica_label` says otherwise.
    """

    label: str  # of the source's aws_s3_bucket and its replication configuration
    source_name: str  # bucket name template
    source_key_arn: Expr
    replica_name: str
    object_lock: bool = False
    into_primary: bool = False
    replica_label: str = ""
    replica_key_arn: Expr | None = None  # None: the secondary's key

    @property
    def replica(self) -> str:
        return self.replica_label or f"{self.label}_replica"

    @property
    def what(self) -> str:
        """The bucket's kind (models, audit, capture), for statement ids and alarms."""
        return self.label.removesuffix("_secondary")

    @property
    def rule_id(self) -> str:
        return "to-primary" if self.into_primary else "to-secondary"

    def source(self, spec: ResolvedSpec) -> Region:
        assert spec.dr.secondary_region is not None
        if self.into_primary:
            return region.secondary(spec.dr.secondary_region)
        return region.primary(spec.region)

    def key(self, spec: ResolvedSpec) -> Expr:
        """The key the replica's objects are encrypted with (its region's)."""
        return self.replica_key_arn or secondary_key_arn(spec)


def replication_pairs(spec: ResolvedSpec) -> list[ReplicationPair]:
    """Model bucket always (for DR); the audit bucket too when audit logs are written; the
    secondary's capture bucket when tasks there capture (capture.py)."""
    main_key, audit_key = Ref("aws_kms_key.main.arn"), Ref("aws_kms_key.audit.arn")
    pairs = [ReplicationPair("models", common.MODELS_BUCKET, main_key, models_replica_name())]
    if common.has_audit_bucket(spec):
        locked = common.audit_lock_mode(spec) is not None
        audit = ReplicationPair(
            "audit", common.AUDIT_BUCKET, audit_key, audit_replica_name(), locked
        )
        pairs.append(audit)
    if capture.captures_in_secondary(spec):
        assert spec.dr.secondary_region is not None
        there = region.secondary(spec.dr.secondary_region)
        back = ReplicationPair(
            "capture_secondary",
            capture.bucket_name(there),
            secondary_key_arn(spec),
            capture.CAPTURE_BUCKET,
            into_primary=True,
            replica_label="capture",
            replica_key_arn=main_key,
        )
        pairs.append(back)
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
            "Sid": f"Read{pair.what.capitalize()}Configuration",
            "Effect": "Allow",
            "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"],
            "Resource": source,
        },
        {
            "Sid": f"Read{pair.what.capitalize()}Versions",
            "Effect": "Allow",
            "Action": read,
            "Resource": f"{source}/*",
        },
        {
            "Sid": f"Write{pair.what.capitalize()}Replica",
            "Effect": "Allow",
            "Action": ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
            "Resource": f"{replica}/*",
        },
    ]


DECRYPT = ("kms:Decrypt",)
ENCRYPT = ("kms:Encrypt", "kms:GenerateDataKey")


def _kms_statements(spec: ResolvedSpec, pairs: Sequence[ReplicationPair]) -> list[Value]:
    """Each key once, with what replication does with it through its own region's S3:
    decrypt a source, encrypt a replica (the capture pair uses both keys the other way).

    One statement per key rather than per direction: checkov cannot render a jsonencode'd
    policy that names one reference twice, and the gate then cannot prove the policy safe
    (SSP_IAM_001/002 fail closed)."""
    assert spec.dr.secondary_region is not None
    uses: dict[str, tuple[Expr, str, list[str]]] = {}
    for pair in pairs:
        target = spec.region if pair.into_primary else spec.dr.secondary_region
        for key, where, actions in (
            (pair.source_key_arn, pair.source(spec).name, DECRYPT),
            (pair.key(spec), target, ENCRYPT),
        ):
            found = uses.setdefault(key.text, (key, where, []))[2]
            found += [action for action in actions if action not in found]
    return [
        {
            "Sid": f"Use{key.text.split('.')[1].capitalize()}Key",
            "Effect": "Allow",
            "Action": actions[0] if len(actions) == 1 else actions,
            "Resource": key,
            "Condition": {"StringEquals": {"kms:ViaService": f"s3.{where}.amazonaws.com"}},
        }
        for key, where, actions in uses.values()
    ]


def _role_description(pairs: Sequence[ReplicationPair]) -> str:
    text = "S3 replication of model artifacts and audit logs to the DR region"
    if any(pair.into_primary for pair in pairs):
        text += ", and of its capture records back"
    return text


def _replication_role(spec: ResolvedSpec, pairs: Sequence[ReplicationPair]) -> list[Block]:
    statements: list[Value] = [stmt for pair in pairs for stmt in _pair_statements(pair)]
    statements += _kms_statements(spec, pairs)
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
                "description": _role_description(pairs),
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
        Block("encryption_configuration", (), {"replica_kms_key_id": pair.key(spec)}),
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
            {"id": pair.rule_id, "status": "Enabled"},
            Block("filter", (), {}),
            # A delete in the source must not reach its copy.
            Block("delete_marker_replication", (), {"status": "Disabled"}),
            Block(
                "source_selection_criteria",
                (),
                [Block("sse_kms_encrypted_objects", (), {"status": "Enabled"})],
            ),
            Block("destination", (), destination),  # type: ignore[arg-type]
        ],
    )
    head: dict[str, Value] = {
        "bucket": Ref(f"aws_s3_bucket.{pair.label}.id"),
        "role": Ref("aws_iam_role.replication.arn"),
    }
    return resource(
        "aws_s3_bucket_replication_configuration",
        pair.label,
        [
            {"provider": SECONDARY, **head} if pair.into_primary else head,
            rule,
            {
                # S3 marks an object it cannot replicate for want of permissions FAILED and
                # never retries it; the first deploy pushes the model right after applying
                # this configuration (a -target that brings along what it depends on).
                "depends_on": [
                    Ref(f"aws_s3_bucket_versioning.{pair.label}"),
                    Ref(f"aws_s3_bucket_versioning.{pair.replica}"),
                    Ref("aws_iam_role_policy.replication"),
                ]
            },
        ],
    )


def _replication_alarm(spec: ResolvedSpec, pair: ReplicationPair) -> Block:
    """In the source's region: S3 reports replication metrics there."""
    source = pair.source(spec)
    if pair.into_primary:
        what = (
            f"Capture records written in {source.name} failed to replicate to the capture "
            f"bucket in {spec.region}: the learning loop misses them until they arrive."
        )
    else:
        what = (
            f"Objects of the {pair.label} bucket failed to replicate to "
            f"{spec.dr.secondary_region}: the DR copy is behind (RPO "
            f"{spec.dr.rpo_minutes} min at risk)."
        )
    return alarm(
        f"replication_{pair.what}",
        {
            "alarm_name": Template(f"${{local.name}}-{pair.what}-replication-failed"),
            "alarm_description": f"{what} See RUNBOOK.md, 'Replication failing'.",
            "namespace": "AWS/S3",
            "metric_name": "OperationsFailedReplication",
            "dimensions": {
                "SourceBucket": Ref(f"aws_s3_bucket.{pair.label}.bucket"),
                "DestinationBucket": Ref(f"aws_s3_bucket.{pair.replica}.bucket"),
                "RuleId": pair.rule_id,
            },
            **on_any_event(300),
        },
        where=source if source.secondary else None,
    )
