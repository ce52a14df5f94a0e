"""What the spec asks of the secondary region: strategy, capacity, keys, names.

Shared by the views that build in the secondary region (dr.tf, audit.tf, backup.tf,
dns.tf) and by the runbook, so that every one of them names the same things.
"""

from __future__ import annotations

import ipaddress

from compiler.spec import ResolvedSpec
from compiler.terraform.hcl import Block, Expr, Ref, Value, resource
from compiler.terraform.plan import (
    Capacity,
    failover_capacity,
    has_secondary,
    load_balancer_name,
    replicates,
    secondary_capacity,
    serving_variant,
    uses_rtc,
)

from . import common

__all__ = [
    "Capacity",
    "failover_capacity",
    "has_secondary",
    "replicates",
    "secondary_capacity",
    "serving_variant",
    "uses_rtc",
]
from .common import ACCOUNT, PARTITION

SECONDARY = Ref("aws.secondary")
HEALTH_PATH = "/readyz"
RTC_MINUTES = 15  # S3 Replication Time Control: 99.99 % of objects within 15 minutes (SLA)


def secondary_key_arn(spec: ResolvedSpec) -> Expr:
    """ARN of the key that encrypts everything in the secondary region."""
    kind = "aws_kms_replica_key" if spec.security.kms.multi_region else "aws_kms_key"
    return Ref(f"{kind}.secondary.arn")


def secondary_vpc_cidr(spec: ResolvedSpec) -> str:
    """The block after the primary's (10.40.0.0/16 -> 10.41.0.0/16), so the VPCs can peer."""
    primary = ipaddress.ip_network(spec.security.network.vpc_cidr)
    following = ipaddress.ip_network(
        (int(primary.network_address) + primary.num_addresses, primary.prefixlen)
    )
    return str(following)


def on(body: dict[str, Value]) -> dict[str, Value]:
    return {"provider": SECONDARY, **body}


def models_replica_name() -> str:
    return f"${{local.name}}-models-dr-{ACCOUNT}"


def audit_replica_name() -> str:
    return f"${{local.name}}-audit-dr-{ACCOUNT}"


def logs_secondary_name() -> str:
    return f"${{local.name}}-logs-dr-{ACCOUNT}"


def secondary_elb_name(spec: ResolvedSpec) -> str:
    """Load balancer and target group names (at most 32 characters)."""
    return load_balancer_name(spec, secondary=True)


def secondary_log_groups(spec: ResolvedSpec) -> dict[str, str]:
    """Log groups of the secondary region, by Terraform label (named in common)."""
    return common.secondary_log_group_names(spec)


def log_group(spec: ResolvedSpec, label: str) -> Block:
    return resource(
        "aws_cloudwatch_log_group",
        label,
        on(
            {
                "name": secondary_log_groups(spec)[label],
                "retention_in_days": spec.observability.log_retention_days,
                "kms_key_id": secondary_key_arn(spec),
            }
        ),
    )


def log_arn(spec: ResolvedSpec, group: str) -> str:
    return f"arn:{PARTITION}:logs:{spec.dr.secondary_region}:{ACCOUNT}:log-group:{group}"
