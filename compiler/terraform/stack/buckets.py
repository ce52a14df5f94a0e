"""Private, versioned, encrypted S3 buckets (audit logs, DR replicas, DR access logs).

One builder writes every resource such a bucket needs to pass review: public access block,
ownership controls, versioning, default encryption, lifecycle, EventBridge notifications,
a TLS-only policy, access logging and (when a profile asks) S3 Object Lock.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from compiler.terraform.hcl import (
    Block,
    Call,
    Comment,
    Expr,
    Ref,
    Template,
    Value,
    jsonencode,
    resource,
    skip,
)

from .common import ACCOUNT, ACCOUNT_ID, PARTITION
from .dr_plan import SECONDARY

_WHOLE = re.compile(r"\$\{([^{}]+)\}")
ABORT_DAYS = 7  # unfinished multipart uploads go after a week (CKV_AWS_300)


def interpolated(value: object) -> Value:
    """A document whose strings with `${...}` interpolate (plain strings would escape it);
    a string that is one interpolation becomes the bare expression."""
    if isinstance(value, str):
        whole = _WHOLE.fullmatch(value)
        if whole:
            return Expr(whole.group(1))
        return Template(value) if "${" in value else value
    if isinstance(value, dict):
        return {key: interpolated(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [interpolated(item) for item in value]
    return value  # type: ignore[return-value]


def document(value: object) -> Call:
    """`jsonencode(...)` of a policy document built from f-strings and references."""
    return jsonencode(interpolated(value))


def tls_only_statement(bucket: str) -> dict[str, Value]:
    """Every bucket's first statement: no request over plain HTTP (`bucket`: a name template)."""
    arn = f"arn:{PARTITION}:s3:::{bucket}"
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [Template(arn), Template(f"{arn}/*")],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def s3_access_logs_statement(objects: str) -> dict[str, Value]:
    """S3 server access logging delivers into `objects` (an object ARN pattern), from this
    account's buckets only."""
    return {
        "Sid": "S3DeliversServerAccessLogs",
        "Effect": "Allow",
        "Principal": {"Service": "logging.s3.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": Template(objects),
        "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID}},
    }


def alb_access_logs_statements(bucket: str, elb_account: Expr) -> list[dict[str, Value]]:
    """Load balancers deliver access logs under `alb/` of the log bucket (ARN `bucket`):
    regions older than 2022 as the regional ELB account, newer ones as the service."""
    objects = Template(f"{bucket}/alb/AWSLogs/{ACCOUNT}/*")
    return [
        {
            "Sid": "LoadBalancerDeliversAccessLogs",
            "Effect": "Allow",
            "Principal": {"AWS": elb_account},
            "Action": "s3:PutObject",
            "Resource": objects,
        },
        {
            "Sid": "LogDeliveryServiceDeliversAccessLogs",
            "Effect": "Allow",
            "Principal": {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": objects,
        },
    ]


@dataclass(frozen=True)
class Bucket:
    """A private, versioned, encrypted bucket and the resources that make it so."""

    label: str
    name: str  # a Terraform template: "${local.name}-audit-${...account_id}"
    kms_key_arn: Expr | None  # None: SSE-S3, for buckets that receive S3/ALB access logs
    log_bucket: Expr | None  # target of this bucket's access logs; None for a log bucket
    log_prefix: str = ""
    secondary: bool = False
    expire_days: int | None = None
    noncurrent_days: int = 90
    lock_mode: str | None = None  # GOVERNANCE | COMPLIANCE: S3 Object Lock default
    lock_days: int = 0
    skips: tuple[Comment, ...] = ()
    extra_statements: tuple[dict[str, Value], ...] = ()

    @property
    def ref(self) -> str:
        return f"aws_s3_bucket.{self.label}"


def replica(
    source: str, name: str, key_arn: Expr, region: str, *, like: Bucket | None = None
) -> Bucket:
    """The DR region's copy of bucket `source` (of the primary `region`): encrypted with the
    secondary's key, logging into the secondary's log bucket, with the retention and Object
    Lock of `like` (a locked source needs a locked destination, AWS)."""
    copy = Bucket(
        label=f"{source}_replica",
        name=name,
        kms_key_arn=key_arn,
        log_bucket=Ref("aws_s3_bucket.logs_secondary.id"),
        log_prefix=f"s3-access/{source}-replica/",
        secondary=True,
        skips=(
            skip(
                "CKV_AWS_144",
                f"replica of aws_s3_bucket.{source} in {region}; "
                "replicating a replica onward is not part of the DR design",
            ),
        ),
    )
    if like is None:
        return copy
    return dataclasses.replace(
        copy,
        expire_days=like.expire_days,
        noncurrent_days=like.noncurrent_days,
        lock_mode=like.lock_mode,
        lock_days=like.lock_days,
    )


def _provider(secondary: bool) -> dict[str, Value]:
    return {"provider": SECONDARY} if secondary else {}


def bucket_blocks(bucket: Bucket) -> list[Block]:
    """aws_s3_bucket plus public access block, ownership, versioning, encryption, logging,
    lifecycle, EventBridge notifications, TLS-only policy and (optionally) object lock."""
    on = _provider(bucket.secondary)
    bucket_id = Ref(f"{bucket.ref}.id")
    main: list[object] = [*bucket.skips, {**on, "bucket": Template(bucket.name)}]
    if bucket.lock_mode:
        main.append({"object_lock_enabled": True})
    head = {**on, "bucket": bucket_id}
    blocks = [
        resource("aws_s3_bucket", bucket.label, main),  # type: ignore[arg-type]
        _public_access_block(bucket.label, head),
        _ownership(bucket.label, head),
        _versioning(bucket.label, head),
        _encryption(bucket, bucket_id),
        _lifecycle(bucket, bucket_id),
        _notification(bucket.label, head),
        _policy(bucket, bucket_id),
    ]
    return [*blocks, *_logging_and_lock(bucket, bucket_id)]


def _logging_and_lock(bucket: Bucket, bucket_id: Expr) -> list[Block]:
    """Access logging into the log bucket (not for a log bucket), and the Object Lock
    default retention when a profile asks for it."""
    on = _provider(bucket.secondary)
    blocks: list[Block] = []
    if bucket.log_bucket is not None:
        blocks.append(
            resource(
                "aws_s3_bucket_logging",
                bucket.label,
                {
                    **on,
                    "bucket": bucket_id,
                    "target_bucket": bucket.log_bucket,
                    "target_prefix": bucket.log_prefix,
                },
            )
        )
    if bucket.lock_mode:
        retention = Block(
            "default_retention", (), {"mode": bucket.lock_mode, "days": bucket.lock_days}
        )
        blocks.append(
            resource(
                "aws_s3_bucket_object_lock_configuration",
                bucket.label,
                [{**on, "bucket": bucket_id}, Block("rule", (), [retention])],
            )
        )
    return blocks


def _encryption(bucket: Bucket, bucket_id: Expr) -> Block:
    key = bucket.kms_key_arn
    rule = sse_s3_rule() if key is None else kms_default_rule(key)
    return resource(
        "aws_s3_bucket_server_side_encryption_configuration",
        bucket.label,
        [{**_provider(bucket.secondary), "bucket": bucket_id}, rule],
    )


def lifecycle_rule(id_: str, *, noncurrent_days: int, expire_days: int | None = None) -> Block:
    """A bucket's one lifecycle rule: objects expire after `expire_days` (None: kept),
    old versions after `noncurrent_days`, unfinished multipart uploads after 7 days."""
    items: list[Block | dict[str, Value]] = [{"id": id_, "status": "Enabled"}, Block("filter")]
    if expire_days is not None:
        items.append(Block("expiration", (), {"days": expire_days}))
    items += [
        Block("noncurrent_version_expiration", (), {"noncurrent_days": noncurrent_days}),
        Block("abort_incomplete_multipart_upload", (), {"days_after_initiation": ABORT_DAYS}),
    ]
    return Block("rule", (), items)


def sse_s3_rule() -> Block:
    """SSE-S3 default encryption: what S3 server access and ALB access logs are delivered to."""
    default = Block("apply_server_side_encryption_by_default", (), {"sse_algorithm": "AES256"})
    return Block("rule", (), [default])


def kms_default_rule(key_arn: Expr) -> Block:
    """Default encryption under a customer-managed key, with S3 Bucket Keys (fewer KMS calls)."""
    default = Block(
        "apply_server_side_encryption_by_default",
        (),
        {"sse_algorithm": "aws:kms", "kms_master_key_id": key_arn},
    )
    return Block("rule", (), [default, {"bucket_key_enabled": True}])


def _lifecycle(bucket: Bucket, bucket_id: Expr) -> Block:
    rule = lifecycle_rule(
        "retention", noncurrent_days=bucket.noncurrent_days, expire_days=bucket.expire_days
    )
    return resource(
        "aws_s3_bucket_lifecycle_configuration",
        bucket.label,
        [
            {**_provider(bucket.secondary), "bucket": bucket_id},
            rule,
            # Versioning first: a lifecycle on an unversioned bucket ignores noncurrent rules.
            {"depends_on": [Ref(f"aws_s3_bucket_versioning.{bucket.label}")]},
        ],
    )


def _policy(bucket: Bucket, bucket_id: Expr) -> Block:
    statements = [tls_only_statement(bucket.name), *bucket.extra_statements]
    return resource(
        "aws_s3_bucket_policy",
        bucket.label,
        {
            **_provider(bucket.secondary),
            "bucket": bucket_id,
            "policy": document({"Version": "2012-10-17", "Statement": statements}),
            # The public access block first, or AWS may reject the policy as public.
            "depends_on": [Ref(f"aws_s3_bucket_public_access_block.{bucket.label}")],
        },
    )


def _sse_s3_only(alb: bool) -> str:
    what = "ALB access logs and S3 server access logs are" if alb else "S3 server access logs are"
    return f"AWS: {what} delivered only to buckets encrypted with SSE-S3, not SSE-KMS"


def sse_s3_skip() -> Comment:
    return skip("SSP_ENC_001", _sse_s3_only(alb=True))


def access_log_bucket_skips(*, alb: bool) -> tuple[Comment, Comment]:
    """Why an access-log bucket (of S3 server access logs, and ALB's when `alb`) is not
    encrypted with KMS and does not log its own access."""
    return (
        skip("CKV_AWS_145", _sse_s3_only(alb)),
        skip(
            "CKV_AWS_18",
            "AWS: this is the access-log destination; a log bucket that logs to "
            "itself records its own log deliveries without end",
        ),
    )


def bucket_settings(
    label: str, sse: Block, lifecycle: list[Block], sse_skips: list[Comment]
) -> list[Block]:
    """The settings of a primary-region bucket with its own encryption rule and lifecycle
    (the model, log, capture and state buckets); `bucket_blocks` builds the same settings
    from a `Bucket`."""
    head: dict[str, Value] = {"bucket": Ref(f"aws_s3_bucket.{label}.id")}
    return [
        _versioning(label, head),
        resource(
            "aws_s3_bucket_server_side_encryption_configuration", label, [*sse_skips, head, sse]
        ),
        _public_access_block(label, head),
        _ownership(label, head),
        resource("aws_s3_bucket_lifecycle_configuration", label, [head, *lifecycle]),
        _notification(label, head),
    ]


# `head`: the bucket reference, and the secondary's provider where the bucket lives there.
def _public_access_block(label: str, head: dict[str, Value]) -> Block:
    return resource(
        "aws_s3_bucket_public_access_block",
        label,
        {
            **head,
            "block_public_acls": True,
            "block_public_policy": True,
            "ignore_public_acls": True,
            "restrict_public_buckets": True,
        },
    )


def _ownership(label: str, head: dict[str, Value]) -> Block:
    rule = Block("rule", (), {"object_ownership": "BucketOwnerEnforced"})
    return resource("aws_s3_bucket_ownership_controls", label, [head, rule])


def _versioning(label: str, head: dict[str, Value]) -> Block:
    enabled = Block("versioning_configuration", (), {"status": "Enabled"})
    return resource("aws_s3_bucket_versioning", label, [head, enabled])


def _notification(label: str, head: dict[str, Value]) -> Block:
    return resource("aws_s3_bucket_notification", label, {**head, "eventbridge": True})
