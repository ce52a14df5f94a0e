"""dr.tf: the secondary-region stack that `dr.strategy` asks for (provider `aws.secondary`).

Every strategy but `none` gets the data plane in the secondary region: a key (a replica of
the multi-Region key, or a key of its own), a replicated model bucket, an ECR repository
that registry replication fills, and a log bucket for that region's access logs. What
differs is compute, sized by `secondary_capacity`:

    backup-restore  no compute: the stack is re-applied there from backups and replicas
    pilot-light     service, load balancer and network exist; 0 tasks until failover
    warm-standby    the spec's minimum tasks, held there until failover raises the range
    active-active   the primary's full capacity (every variant's min..max), serving always

This view builds the key, the data plane and the network there. The secondary's load
balancer, service, scaling and WAF come from the primary's builders, called again with the
secondary `Region` by their own views (load_balancer.tf, compute.tf, scaling.tf, waf.tf);
what differs (Fargate, one variant, rolling, the DR capacity) is `plan.secondary_fleet`.
"""

from __future__ import annotations

from compiler.spec import ResolvedSpec
from compiler.terraform.hcl import Block, Ref, Template, Value, resource, skip

from . import ecr_lifecycle, network_plan, region, region_network, replication
from .buckets import Bucket, bucket_blocks, document
from .common import ACCOUNT, ACCOUNT_ID, PARTITION
from .dr_plan import (
    HEALTH_PATH,
    RTC_MINUTES,
    SECONDARY,
    Capacity,
    failover_capacity,
    has_secondary,
    logs_secondary_name,
    models_replica_name,
    replicates,
    secondary_capacity,
    secondary_elb_name,
    secondary_key_arn,
    secondary_vpc_cidr,
    serving_variant,
    uses_rtc,
)

__all__ = [
    "HEALTH_PATH",
    "RTC_MINUTES",
    "SECONDARY",
    "Capacity",
    "blocks",
    "failover_capacity",
    "has_secondary",
    "replicates",
    "secondary_capacity",
    "secondary_elb_name",
    "secondary_key_arn",
    "secondary_vpc_cidr",
    "serving_variant",
    "uses_rtc",
]


def _tags(spec: ResolvedSpec, role: str) -> dict[str, Value]:
    return {"Name": Template(f"${{local.name}}-{role}"), "servespec:region-role": "secondary"}


def _key_policy(spec: ResolvedSpec) -> dict[str, Value]:
    region = spec.dr.secondary_region
    root = f"arn:{PARTITION}:iam::{ACCOUNT}:root"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AccountAdministers",
                "Effect": "Allow",
                "Principal": {"AWS": root},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "CloudWatchLogsInSecondaryRegion",
                "Effect": "Allow",
                "Principal": {"Service": f"logs.{region}.amazonaws.com"},
                "Action": [
                    "kms:Encrypt",
                    "kms:Decrypt",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:DescribeKey",
                ],
                "Resource": "*",
                "Condition": {
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": (
                            f"arn:{PARTITION}:logs:{region}:{ACCOUNT}:log-group:*"
                        )
                    }
                },
            },
            {
                # The DR region's alarms publish to its KMS-encrypted topic.
                "Sid": "CloudWatchAlarmsPublishToTheEncryptedTopic",
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID}},
            },
        ],
    }


def secondary_key(spec: ResolvedSpec) -> list[Block]:
    """A replica of the multi-Region key, or (single-Region keys) a key of its own."""
    kms = spec.security.kms
    base: dict[str, Value] = {
        "provider": SECONDARY,
        "description": Template("${local.name} secondary region (disaster recovery)"),
        "deletion_window_in_days": kms.deletion_window_days,
    }
    policy: dict[str, Value] = {"policy": document(_key_policy(spec)), "tags": _tags(spec, "dr")}
    if kms.multi_region:
        # Same key material as aws_kms_key.main: replicas decrypt the primary's ciphertext.
        return [
            resource(
                "aws_kms_replica_key",
                "secondary",
                {**base, "primary_key_arn": Ref("aws_kms_key.main.arn"), **policy},
            )
        ]
    return [
        resource(
            "aws_kms_key",
            "secondary",
            {
                **base,
                "enable_key_rotation": kms.rotation,
                "rotation_period_in_days": kms.rotation_period_days,
                **policy,
            },
        ),
    ]


def _logs_secondary(spec: ResolvedSpec) -> list[Block]:
    name = logs_secondary_name()
    arn = f"arn:{PARTITION}:s3:::{name}"
    delivery: dict[str, Value] = {
        "Sid": "S3ServerAccessLogs",
        "Effect": "Allow",
        "Principal": {"Service": "logging.s3.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": f"{arn}/s3-access/*",
        "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID}},
    }
    alb: dict[str, Value] = {
        "Sid": "LoadBalancerAccessLogs",
        "Effect": "Allow",
        # Regions older than 2022 deliver from a regional ELB account, not a service.
        "Principal": {"AWS": "${data.aws_elb_service_account.secondary.arn}"},
        "Action": "s3:PutObject",
        "Resource": f"{arn}/alb/AWSLogs/{ACCOUNT}/*",
    }
    alb_service: dict[str, Value] = {
        "Sid": "LogDeliveryServiceDeliversAccessLogs",
        "Effect": "Allow",
        "Principal": {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": f"{arn}/alb/AWSLogs/{ACCOUNT}/*",
    }
    region = spec.dr.secondary_region
    bucket = Bucket(
        label="logs_secondary",
        name=name,
        kms_key_arn=None,
        log_bucket=None,
        secondary=True,
        expire_days=max(spec.observability.log_retention_days, 365),
        skips=(
            skip(
                "CKV_AWS_145",
                "S3 server access logs and ALB access logs are delivered "
                "only to SSE-S3 buckets (AWS); this bucket receives both",
            ),
            skip(
                "CKV_AWS_18",
                f"the access-log bucket of {region}; logging it into itself would loop",
            ),
            skip(
                "CKV_AWS_144",
                "access logs of the secondary region; they describe that "
                "region's traffic and are not part of the recovery set",
            ),
        ),
        extra_statements=(delivery, alb, alb_service),
    )
    elb_account = Block("data", ("aws_elb_service_account", "secondary"), {"provider": SECONDARY})
    return [elb_account, *bucket_blocks(bucket)]


def _models_replica(spec: ResolvedSpec) -> list[Block]:
    bucket = Bucket(
        label="models_replica",
        name=models_replica_name(),
        kms_key_arn=secondary_key_arn(spec),
        log_bucket=Ref("aws_s3_bucket.logs_secondary.id"),
        log_prefix="s3-access/models-replica/",
        secondary=True,
        skips=(
            skip(
                "CKV_AWS_144",
                f"replica of aws_s3_bucket.models in {spec.region}; "
                "replicating a replica onward is not part of the DR design",
            ),
        ),
    )
    return bucket_blocks(bucket)


def _ecr(spec: ResolvedSpec) -> list[Block]:
    assert spec.dr.secondary_region is not None  # replicates(spec)
    return [
        # Created ahead of replication so that it has the primary's settings (immutable tags,
        # scanning, the secondary key) instead of the defaults of an auto-created repository.
        # The registry's replication rule is account-wide: the account root writes it.
        resource(
            "aws_ecr_repository",
            "runtime_secondary",
            [
                {
                    "provider": SECONDARY,
                    "name": Ref("aws_ecr_repository.runtime.name"),
                    "image_tag_mutability": "IMMUTABLE",
                },
                Block(
                    "encryption_configuration",
                    (),
                    {"encryption_type": "KMS", "kms_key": secondary_key_arn(spec)},
                ),
                Block("image_scanning_configuration", (), {"scan_on_push": True}),
            ],
        ),
        # The primary's lifecycle: replication copies every push, expiry must follow.
        ecr_lifecycle.policy(region.secondary(spec.dr.secondary_region)),
    ]


def data_plane(spec: ResolvedSpec) -> list[Block]:
    blocks = [*_logs_secondary(spec), *_models_replica(spec)]
    blocks += replication.blocks(spec)
    blocks += _ecr(spec)
    return blocks


def blocks(spec: ResolvedSpec) -> list[Block]:
    """Every block of dr.tf for one environment (empty when nothing is secondary)."""
    if not has_secondary(spec):
        return []
    blocks = secondary_key(spec)
    if replicates(spec):
        blocks += data_plane(spec)
    if secondary_capacity(spec) is not None:
        # Its load balancer, service, scaling and WAF are the primary's builders' (their
        # views build them for both regions); its network is built here.
        blocks += region_network.blocks(spec, network_plan.secondary(spec))
    return blocks
