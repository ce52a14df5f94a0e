"""experiment.tf: what the learning loop needs in AWS.

- The capture bucket (``observability.capture``): private, versioned, encrypted with the
  deployment's key by default, TLS-only, records expire after ``capture.retention_days``;
  the task role may only put objects under ``capture/`` (and make data keys for that).
  Where tasks also run in the secondary, that region gets a capture bucket of its own
  (capture.py: its VPC reaches only same-Region S3), replicated into this one.
- One listener rule per A/B variant that routes a request pinned with the
  ``X-Servespec-Variant`` header to that variant's service (evaluation, ``servespec eval``).
- Per-variant alarms (p99 latency, p95 time to first token) and an experiment dashboard:
  the runtime's EMF metrics carry a ``Variant`` dimension, so each variant is watched alone.
- The runtime's variables for both (``SERVESPEC_VARIANT*``, ``SERVESPEC_CAPTURE_*``).
"""

from __future__ import annotations

from collections.abc import Sequence

from compiler.spec import ResolvedSpec
from compiler.terraform.hcl import Block, Ref, Template, Value, jsonencode, resource, skip
from compiler.terraform.plan import Plan

from . import common, regional
from .buckets import bucket_settings, kms_default_rule, lifecycle_rule, tls_only_statement
from .capture import (
    CAPTURE_BUCKET,
    CAPTURE_PREFIX,
    KEY_ALIAS,
    bucket_name,
    capture_uri,
    captures_in_secondary,
    environment,
    kms_only_statement,
    secondary_bucket,
)
from .cloudwatch import PERIOD_S, alarm, widget

__all__ = ["CAPTURE_BUCKET", "CAPTURE_PREFIX", "blocks", "capture_uri", "environment"]

PIN_HEADER = "X-Servespec-Variant"
PIN_PRIORITY = 90  # before the API rule (100): a pinned request skips the weighted split


def blocks(p: Plan) -> list[Block]:
    spec = p.spec
    found = [_pin_rule(v.key, i) for i, v in enumerate(p.variants) if spec.variants]
    for variant in spec.variants:
        found += _variant_alarms(spec, variant.name)
    if spec.variants:
        found.append(_dashboard(spec))
    if spec.observability.capture.enabled:
        found += [*_bucket(spec), _task_may_write(p)]
    if captures_in_secondary(spec):
        found += secondary_bucket(spec)
    return found


def _pin_rule(variant: str, index: int) -> Block:
    return resource(
        "aws_lb_listener_rule",
        f"pin_{variant.replace('-', '_')}",
        [
            {"listener_arn": Ref("aws_lb_listener.https.arn"), "priority": PIN_PRIORITY + index},
            Block(
                "action",
                (),
                {"type": "forward", "target_group_arn": Ref(f"aws_lb_target_group.{variant}.arn")},
            ),
            Block(
                "condition",
                (),
                [Block("http_header", (), {"http_header_name": PIN_HEADER, "values": [variant]})],
            ),
        ],
    )


def _bucket(spec: ResolvedSpec) -> list[Block]:
    days = spec.observability.capture.retention_days
    sse = kms_default_rule(Ref("aws_kms_key.main.arn"))
    # observability.capture.retention_days: records (and old versions) go.
    lifecycle = [lifecycle_rule("expire-capture", expire_days=days, noncurrent_days=1)]
    reason = (
        f"capture records are analysis data kept {days} days "
        "(observability.capture.retention_days) in the region that served the requests"
    )
    if captures_in_secondary(spec):
        reason += " (the DR region's records replicate into this bucket, the learning loop's)"
    return [
        resource(
            "aws_s3_bucket",
            "capture",
            [skip("CKV_AWS_144", reason), {"bucket": Template(CAPTURE_BUCKET)}],
        ),
        *bucket_settings("capture", sse, lifecycle, []),
        resource(
            "aws_s3_bucket_logging",
            "capture",
            {
                "bucket": Ref("aws_s3_bucket.capture.id"),
                "target_bucket": Ref("aws_s3_bucket.logs.id"),
                "target_prefix": "s3-access/capture/",
            },
        ),
        resource(
            "aws_s3_bucket_policy",
            "capture",
            {
                "bucket": Ref("aws_s3_bucket.capture.id"),
                "policy": jsonencode(_bucket_policy()),
                "depends_on": [Ref("aws_s3_bucket_public_access_block.capture")],
            },
        ),
    ]


def _bucket_policy() -> dict[str, Value]:
    return common.policy(tls_only_statement(CAPTURE_BUCKET), kms_only_statement(CAPTURE_BUCKET))


def _task_may_write(p: Plan) -> Block:
    """Each region's tasks write to their region's bucket under their region's key (both
    regions' tasks assume the one task role: iam.py)."""
    regions = [where for where, _ in regional.fleets(p)]
    objects = [
        Template(f"arn:{common.PARTITION}:s3:::{bucket_name(where)}/{CAPTURE_PREFIX}*")
        for where in regions
    ]
    keys = [common.arn("kms", "key/*", where.name) for where in regions]
    document = common.policy(
        common.statement("WriteCaptureRecords", ["s3:PutObject"], _one_or_all(objects)),
        common.statement(
            "EncryptCaptureRecords",
            ["kms:GenerateDataKey"],
            _one_or_all(keys),
            {"ForAnyValue:StringEquals": {"kms:ResourceAliases": Template(KEY_ALIAS)}},
        ),
    )
    return resource(
        "aws_iam_role_policy",
        "task_capture",
        {
            "name": "write-capture",
            "role": Ref("aws_iam_role.task.id"),
            "policy": jsonencode(document),
        },
    )


def _one_or_all(items: Sequence[Value]) -> Value:
    return items[0] if len(items) == 1 else list(items)


def _variant_alarms(spec: ResolvedSpec, variant: str) -> list[Block]:
    alarms = spec.observability.alarms
    dimensions = {"Model": spec.model.name, "Variant": variant}
    found = []
    for metric, stat, threshold, what in (
        ("Latency", "p99", alarms.p99_latency_ms, "p99 latency"),
        ("TimeToFirstToken", "p95", alarms.ttft_p95_ms, "p95 time to first token"),
    ):
        found.append(
            alarm(
                f"{variant}_{metric.lower()}".replace("-", "_"),
                {
                    "alarm_description": (
                        f"variant {variant}: {what} above {threshold} ms for 5 minutes "
                        f"({spec.metadata.name} {spec.environment}). Runbook: compare the "
                        "variants on the experiment dashboard; move weight away from this "
                        "variant in the spec if only it is slow."
                    ),
                    "namespace": spec.metrics_namespace,
                    "metric_name": metric,
                    "dimensions": dimensions,
                    "extended_statistic": stat,
                    "period": PERIOD_S,
                    "evaluation_periods": 5,
                    "threshold": threshold,
                    "comparison_operator": "GreaterThanThreshold",
                    "treat_missing_data": "notBreaching",
                },
            )
        )
    return found


def _dashboard(spec: ResolvedSpec) -> Block:
    namespace, model = spec.metrics_namespace, spec.model.name

    def panel(title: str, metric: str, stat: str, x: int, y: int) -> dict[str, Value]:
        lines: list[Value] = [
            [namespace, metric, "Model", model, "Variant", v.name] for v in spec.variants
        ]
        return widget(spec.region, title, lines, x, y, stat)

    body = {
        "widgets": [
            panel("p95 latency per variant (ms)", "Latency", "p95", 0, 0),
            panel("p95 time to first token per variant (ms)", "TimeToFirstToken", "p95", 12, 0),
            panel("Errors per variant", "Errors", "Sum", 0, 6),
            panel("Tokens out per variant", "TokensOut", "Sum", 12, 6),
        ]
    }
    return resource(
        "aws_cloudwatch_dashboard",
        "experiment",
        {
            "dashboard_name": Template("${local.name}-experiment"),
            "dashboard_body": jsonencode(body),
        },
    )
