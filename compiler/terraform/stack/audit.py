"""audit.tf: CloudTrail, AWS Config and GuardDuty, as `security.audit` asks.

Audit records get a key of their own (`aws_kms_key.audit`): the application's roles can use
the deployment key, but not this one, so a compromised task can neither read nor forge the
trail. The trail delivers into the audit bucket (prefix `cloudtrail/`), replicated to the
DR region when the spec has one. AWS Config's recorder and GuardDuty's detector are one per
account and region: the account root (`compiler/terraform/account`) creates them, and this
view adds the environment's Config rules.

Compliance profiles change what is generated, not only what is validated:

    hipaa  S3 Object Lock on the audit buckets (governance outside production, compliance in
           production), logs kept at least six years, every read and write of model
           artifacts recorded as CloudTrail data events, HIPAA-oriented Config rules
    gdpr   an alarm on any write activity outside the spec's regions (CloudTrail sees every
           region), Config rules for personal-data stores (encryption, TLS, no public access)
"""

from __future__ import annotations

from collections.abc import Sequence

from compiler.spec import ResolvedSpec
from compiler.terraform.hcl import Block, Ref, Template, Value, resource, skip
from compiler.terraform.plan import HIPAA_RETENTION_DAYS, Plan, allowed_regions
from compiler.terraform.plan import audit_retention_days as retention_days

from . import audit_key, buckets, common, config_rules_builder, dr_plan
from .audit_key import trail_arn
from .cloudwatch import alarm, on_any_event
from .common import ACCOUNT, PARTITION
from .config_rules_builder import ConfigRule, config_rules

# Global services log to us-east-1 whatever region the caller uses.
GLOBAL_EVENT_SOURCES = (
    "iam.amazonaws.com",
    "sts.amazonaws.com",
    "route53.amazonaws.com",
    "cloudfront.amazonaws.com",
    "organizations.amazonaws.com",
    "support.amazonaws.com",
    "health.amazonaws.com",
)
TAMPERING_EVENTS = (
    "StopLogging",
    "DeleteTrail",
    "UpdateTrail",
    "StopConfigurationRecorder",
    "DeleteConfigurationRecorder",
    "DeleteDeliveryChannel",
    "ScheduleKeyDeletion",
    "DisableKey",
    "DeleteDetector",
    "DeleteBackupVaultLockConfiguration",
)


# ---------------------------------------------------------------------------------------
# What the spec asks for


def has_audit_bucket(spec: ResolvedSpec) -> bool:
    return spec.security.audit.cloudtrail or spec.security.audit.config_rules


def audit_bucket_name() -> str:
    return f"${{local.name}}-audit-{ACCOUNT}"


def object_lock_mode(spec: ResolvedSpec) -> str | None:
    """S3 Object Lock mode of the audit buckets, or None when no profile asks for it."""
    if "hipaa" not in spec.security.compliance:
        return None
    return "COMPLIANCE" if spec.production else "GOVERNANCE"


def metric_namespace(spec: ResolvedSpec) -> str:
    return f"{spec.metrics_namespace}/audit"


# ---------------------------------------------------------------------------------------
# The view


def blocks(p: Plan) -> list[Block]:
    spec = p.spec
    audit = spec.security.audit
    found: list[Block] = []
    if has_audit_bucket(spec):
        found += audit_key.blocks(spec) + _buckets(spec)
    if audit.cloudtrail:
        found += _trail(spec) + _trail_alarms(spec)
    if audit.config_rules:
        found += config_rules_builder.blocks(spec)
    # GuardDuty's detector is one per account and region: the account root enables it.
    return found


def _delivery_statements(spec: ResolvedSpec) -> tuple[dict[str, Value], ...]:
    bucket = f"arn:{PARTITION}:s3:::{audit_bucket_name()}"
    found: list[dict[str, Value]] = []
    owner_acl = {"s3:x-amz-acl": "bucket-owner-full-control"}
    if spec.security.audit.cloudtrail:
        source = {"aws:SourceArn": trail_arn(spec)}
        found += [
            {
                "Sid": "CloudTrailChecksTheAcl",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "s3:GetBucketAcl",
                "Resource": bucket,
                "Condition": {"StringEquals": source},
            },
            {
                "Sid": "CloudTrailWritesLogFiles",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": f"{bucket}/cloudtrail/AWSLogs/{ACCOUNT}/*",
                "Condition": {"StringEquals": {**owner_acl, **source}},
            },
        ]
    return tuple(found)


def _buckets(spec: ResolvedSpec) -> list[Block]:
    mode = object_lock_mode(spec)
    days = retention_days(spec)
    replicated = dr_plan.replicates(spec)
    source_skips = (
        ()
        if replicated
        else (
            skip(
                "CKV_AWS_144",
                "dr.strategy is none: the spec names no secondary region to "
                "replicate audit logs to",
            ),
        )
    )
    source = buckets.Bucket(
        label="audit",
        name=audit_bucket_name(),
        kms_key_arn=Ref("aws_kms_key.audit.arn"),
        log_bucket=Ref("aws_s3_bucket.logs.id"),
        log_prefix="s3-access/audit/",
        expire_days=days,
        noncurrent_days=days,
        lock_mode=mode,
        lock_days=days,
        skips=source_skips,
        extra_statements=_delivery_statements(spec),
    )
    found = buckets.bucket_blocks(source)
    if replicated:
        key = dr_plan.secondary_key_arn(spec)
        name = dr_plan.audit_replica_name()
        replica = buckets.replica("audit", name, key, spec.region, like=source)
        found += buckets.bucket_blocks(replica)
    return found


def _trail(spec: ResolvedSpec) -> list[Block]:
    return [*_trail_logs(spec), *_trail_topic(spec), _trail_itself(spec)]


def _trail_logs(spec: ResolvedSpec) -> list[Block]:
    """The trail's CloudWatch log group and the role CloudTrail writes it with."""
    group = common.log_group_names(spec)["cloudtrail"]
    group_arn = f"arn:{PARTITION}:logs:{spec.region}:{ACCOUNT}:log-group:{group}"
    write = common.statement(
        "WriteTrailEvents",
        ["logs:CreateLogStream", "logs:PutLogEvents"],
        Template(f"{group_arn}:log-stream:*"),
    )
    return [
        resource(
            "aws_cloudwatch_log_group",
            "cloudtrail",
            {
                "name": group,
                "retention_in_days": retention_days(spec),
                "kms_key_id": Ref("aws_kms_key.audit.arn"),
            },
        ),
        resource(
            "aws_iam_role",
            "cloudtrail_logs",
            {
                "name": Template("${local.name}-cloudtrail-logs"),
                "description": "CloudTrail delivers the trail to its CloudWatch log group",
                "assume_role_policy": buckets.document(
                    common.assume_role("cloudtrail.amazonaws.com")
                ),
            },
        ),
        resource(
            "aws_iam_role_policy",
            "cloudtrail_logs",
            {
                "name": "deliver-to-log-group",
                "role": Ref("aws_iam_role.cloudtrail_logs.id"),
                "policy": buckets.document(common.policy(write)),
            },
        ),
    ]


def _trail_topic(spec: ResolvedSpec) -> list[Block]:
    """The topic CloudTrail announces each log file on (encrypted with the audit key)."""
    announce: dict[str, Value] = {
        "Sid": "CloudTrailAnnouncesLogFiles",
        "Effect": "Allow",
        "Principal": {"Service": "cloudtrail.amazonaws.com"},
        "Action": "SNS:Publish",
        "Resource": Template(f"arn:{PARTITION}:sns:{spec.region}:{ACCOUNT}:${{local.name}}-audit"),
        "Condition": {"StringEquals": {"aws:SourceArn": Template(trail_arn(spec))}},
    }
    return [
        resource(
            "aws_sns_topic",
            "audit",
            {
                "name": Template("${local.name}-audit"),
                "kms_master_key_id": Ref("aws_kms_key.audit.arn"),
            },
        ),
        resource(
            "aws_sns_topic_policy",
            "audit",
            {
                "arn": Ref("aws_sns_topic.audit.arn"),
                "policy": buckets.document(common.policy(announce)),
            },
        ),
    ]


def _trail_itself(spec: ResolvedSpec) -> Block:
    # hipaa: who read which model weights matters too, not only who changed them.
    data_reads = "All" if "hipaa" in spec.security.compliance else "WriteOnly"
    models = Block(
        "data_resource",
        (),
        {"type": "AWS::S3::Object", "values": [Template("${aws_s3_bucket.models.arn}/")]},
    )
    return resource(
        "aws_cloudtrail",
        "main",
        [
            {
                "name": Ref("local.name"),
                "s3_bucket_name": Ref("aws_s3_bucket.audit.id"),
                "s3_key_prefix": "cloudtrail",
                "is_multi_region_trail": True,
                "include_global_service_events": True,
                "enable_log_file_validation": True,
                "enable_logging": True,
                "kms_key_id": Ref("aws_kms_key.audit.arn"),
                "cloud_watch_logs_group_arn": Template(
                    "${aws_cloudwatch_log_group.cloudtrail.arn}:*"
                ),
                "cloud_watch_logs_role_arn": Ref("aws_iam_role.cloudtrail_logs.arn"),
                "sns_topic_name": Ref("aws_sns_topic.audit.arn"),
            },
            Block(
                "event_selector",
                (),
                [{"read_write_type": data_reads, "include_management_events": True}, models],
            ),
            {
                "depends_on": [
                    Ref("aws_s3_bucket_policy.audit"),
                    Ref("aws_sns_topic_policy.audit"),
                    Ref("aws_iam_role_policy.cloudtrail_logs"),
                ]
            },
        ],
    )


def _or(clauses: Sequence[str]) -> str:
    return " || ".join(clauses)


def _filter_alarm(
    spec: ResolvedSpec, label: str, metric: str, pattern: str, description: str
) -> list[Block]:
    namespace = metric_namespace(spec)
    return [
        resource(
            "aws_cloudwatch_log_metric_filter",
            label,
            [
                {
                    "name": Template(f"${{local.name}}-{label.replace('_', '-')}"),
                    "log_group_name": Ref("aws_cloudwatch_log_group.cloudtrail.name"),
                    "pattern": pattern,
                },
                Block(
                    "metric_transformation",
                    (),
                    {"name": metric, "namespace": namespace, "value": "1", "default_value": "0"},
                ),
            ],
        ),
        alarm(
            label,
            {
                "alarm_description": description,
                "namespace": namespace,
                "metric_name": metric,
                **on_any_event(300),
            },
            notify_ok=False,
        ),
    ]


def _trail_alarms(spec: ResolvedSpec) -> list[Block]:
    events = _or([f"($.eventName = {name})" for name in TAMPERING_EVENTS])
    found = _filter_alarm(
        spec,
        "audit_tampering",
        "AuditTampering",
        f"{{ {events} }}",
        "Someone stopped, changed or deleted an audit control (trail, Config recorder, "
        "GuardDuty, a key, a vault lock). Treat as a security incident: see RUNBOOK.md, "
        "'Audit tampering'.",
    )
    if "gdpr" in spec.security.compliance:
        regions = " && ".join(f'($.awsRegion != "{r}")' for r in allowed_regions(spec))
        sources = " && ".join(f'($.eventSource != "{s}")' for s in GLOBAL_EVENT_SOURCES)
        found += _filter_alarm(
            spec,
            "outside_allowed_regions",
            "WritesOutsideAllowedRegions",
            f"{{ {regions} && {sources} && ($.readOnly IS FALSE) }}",
            f"gdpr: a write API call was made outside {', '.join(allowed_regions(spec))}. "
            "Personal data may be leaving the EU: see RUNBOOK.md, 'Activity outside the "
            "allowed regions'.",
        )
    return found


__all__ = [
    "HIPAA_RETENTION_DAYS",
    "ConfigRule",
    "allowed_regions",
    "blocks",
    "config_rules",
    "retention_days",
    "trail_arn",
]
