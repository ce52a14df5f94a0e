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
from compiler.terraform.plan import Plan

from . import ecr_lifecycle, kms_keys, network_plan, region, region_network, replication
from .buckets import (
    Bucket,
    access_log_bucket_skips,
    alb_access_logs_statements,
    bucket_blocks,
    document,
    replica,
    s3_access_logs_statement,
)
from .capture import KEY_ALIAS
from .common import PARTITION
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
    """The primary key's policy, for the secondary region (Fargate there: no EC2 volumes)."""
    assert spec.dr.secondary_region is not None
    return kms_keys.region_key_policy(spec.dr.secondary_region)


def secondary_key(spec: ResolvedSpec) -> list[Block]:
    """A replica of the multi-Region key, or (single-Region keys) a key of its own."""
    kms = spec.security.kms
    description = Template("${local.name} secondary region (disaster recovery)")
    policy: dict[str, Value] = {"policy": document(_key_policy(spec)), "tags": _tags(spec, "dr")}
    settings: dict[str, Value]
    if kms.multi_region:
        # Same key material as aws_kms_key.main (rotation follows it): replicas decrypt
        # the primary's ciphertext.
        kind, settings = (
            "aws_kms_replica_key",
            {
                "description": description,
                "deletion_window_in_days": kms.deletion_window_days,
                "primary_key_arn": Ref("aws_kms_key.main.arn"),
            },
        )
    else:
        kind, settings = "aws_kms_key", kms_keys.key_settings(kms, description)
    # The primary's alias, in this region (aliases are regional): the runtime names its key
    # for capture writes by alias ARN (capture.py), known before the key exists.
    alias: dict[str, Value] = {
        "name": Template(KEY_ALIAS),
        "target_key_id": Ref(f"{kind}.secondary.key_id"),
    }
    return [
        resource(kind, "secondary", {"provider": SECONDARY, **settings, **policy}),
        resource("aws_kms_alias", "secondary", {"provider": SECONDARY, **alias}),
    ]


def _logs_secondary(spec: ResolvedSpec) -> list[Block]:
    name = logs_secondary_name()
    arn = f"arn:{PARTITION}:s3:::{name}"
    elb_account = Ref("data.aws_elb_service_account.secondary.arn")
    delivery = [s3_access_logs_statement(f"{arn}/s3-access/*")]
    delivery += alb_access_logs_statements(arn, elb_account)
    bucket = Bucket(
        label="logs_secondary",
        name=name,
        kms_key_arn=None,
        log_bucket=None,
        secondary=True,
        expire_days=max(spec.observability.log_retention_days, 365),
        skips=(
            *access_log_bucket_skips(alb=True),
            skip(
                "CKV_AWS_144",
                "access logs of the secondary region; they describe that "
                "region's traffic and are not part of the recovery set",
            ),
        ),
        extra_statements=tuple(delivery),
    )
    elb_data = Block("data", ("aws_elb_service_account", "secondary"), {"provider": SECONDARY})
    return [elb_data, *bucket_blocks(bucket)]


def _models_replica(spec: ResolvedSpec) -> list[Block]:
    bucket = replica("models", models_replica_name(), secondary_key_arn(spec), spec.region)
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


def blocks(p: Plan) -> list[Block]:
    """Every block of dr.tf for one environment (empty when nothing is secondary)."""
    spec = p.spec
    if not p.has_secondary:
        return []
    blocks = secondary_key(spec)
    if p.replicates:
        blocks += data_plane(spec)
    if p.secondary_capacity is not None:
        # Its load balancer, service, scaling and WAF are the primary's builders' (their
        # views build them for both regions); its network is built here.
        blocks += region_network.blocks(p, network_plan.secondary(spec))
    return blocks
