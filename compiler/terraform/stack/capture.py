"""Where the runtime writes capture records, and the learning loop's runtime variables.

A builder (not a view): the container (container.py) and experiment.tf both need these.
Each region's tasks write to a capture bucket in their own region, under that region's
key: the secondary's VPC reaches S3 and KMS only through same-Region endpoints (gateway
endpoints reach only buckets in the VPC's Region, AWS), so a task there could not write
to the primary's bucket. The secondary's bucket replicates into the primary's
(replication.py), so the learning loop keeps reading one bucket.
"""

from __future__ import annotations

from compiler.spec import ResolvedSpec
from compiler.terraform.hcl import Block, Ref, Template, Value
from compiler.terraform.plan import secondary_fleet
from runtime import emf

from . import common, dr_plan, region
from .buckets import Bucket, bucket_blocks
from .region import Region

CAPTURE_BUCKET = "${local.name}-capture-${local.account_id}"
CAPTURE_PREFIX = "capture/"
KEY_ALIAS = "alias/${local.name}"  # the region's deployment key, in either region


def bucket_name(where: Region | None = None) -> str:
    """The capture bucket of the region (the primary's when `where` is None)."""
    if where is not None and where.secondary:
        return "${local.name}-capture-dr-${local.account_id}"
    return CAPTURE_BUCKET


def capture_uri(where: Region | None = None) -> Template:
    return Template(f"s3://{bucket_name(where)}/{CAPTURE_PREFIX}")


def captures_in_secondary(spec: ResolvedSpec) -> bool:
    """True when tasks run in the secondary and capture records: its bucket exists."""
    return spec.observability.capture.enabled and secondary_fleet(spec) is not None


def kms_only_statement(bucket: str) -> dict[str, Value]:
    """Objects are encrypted with KMS or not written at all (no SSE-S3, no plaintext)."""
    return {
        "Sid": "DenyUploadsNotUnderKms",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:PutObject",
        "Resource": Template(f"arn:{common.PARTITION}:s3:::{bucket}/*"),
        "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}},
    }


def runtime_variant(spec: ResolvedSpec, variant: str) -> str:
    """The variant name one service's runtime reports (its header, capture records and the
    EMF ``Variant`` dimension its queue-depth scaling reads): what ``environment`` sets as
    SERVESPEC_VARIANT, else the runtime's default."""
    return variant if _names_variant(spec, variant) else emf.DEFAULT_VARIANT


def _names_variant(spec: ResolvedSpec, variant: str) -> bool:
    return bool(spec.variants and variant)


def environment(spec: ResolvedSpec, variant: str, where: Region | None = None) -> dict[str, Value]:
    """Variables for the runtime of one variant (empty name: the DR stack's single service)
    in `where` (the primary when None): capture goes to that region's bucket and key."""
    values: dict[str, Value] = {}
    if _names_variant(spec, variant):
        values["SERVESPEC_VARIANT"] = variant
        # Names only: a weight shift must not change (and restart) every task definition.
        values["SERVESPEC_VARIANTS"] = ",".join(v.name for v in spec.variants)
    capture = spec.observability.capture
    if capture.enabled:
        values["SERVESPEC_CAPTURE_URI"] = capture_uri(where)
        values["SERVESPEC_CAPTURE_SAMPLE_PERCENT"] = str(capture.sample_percent)
        values["SERVESPEC_CAPTURE_KEEP_TEXT"] = "true" if capture.keep_text else "false"
        # The alias ARN is known before the key exists (container definitions stay literal).
        region = spec.region if where is None else where.name
        values["SERVESPEC_CAPTURE_KMS_KEY_ID"] = common.arn("kms", KEY_ALIAS, region)
    return values


def secondary_bucket(spec: ResolvedSpec) -> list[Block]:
    """The secondary's capture bucket: the primary's settings (KMS under the region's key,
    TLS and KMS uploads only, no public access, the same retention), built by the bucket
    builder; replication.py copies it into the primary's bucket."""
    assert spec.dr.secondary_region is not None
    name = bucket_name(region.secondary(spec.dr.secondary_region))
    bucket = Bucket(
        label="capture_secondary",
        name=name,
        kms_key_arn=dr_plan.secondary_key_arn(spec),
        log_bucket=Ref("aws_s3_bucket.logs_secondary.id"),
        log_prefix="s3-access/capture/",
        secondary=True,
        # observability.capture.retention_days: records (and old versions) go, as there.
        expire_days=spec.observability.capture.retention_days,
        noncurrent_days=1,
        extra_statements=(kms_only_statement(name),),
    )
    return bucket_blocks(bucket)
