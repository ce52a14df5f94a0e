"""The spec's ``security`` section: encryption, TLS, WAF, audit, network, waivers.

Kept apart from ``model.py`` (which imports it) so each module stays small.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import Field

from .base import Cidr, Strict


class Kms(Strict):
    rotation: bool = True
    rotation_period_days: Annotated[int, Field(ge=90, le=2560)] = 365
    multi_region: bool = False
    """Multi-Region keys, so replicas in the DR region decrypt the same data."""
    deletion_window_days: Annotated[int, Field(ge=7, le=30)] = 30


class Tls(Strict):
    domain: Annotated[str, Field(pattern=r"^([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}$")]
    """Public host name of the API; the ACM certificate is issued for it."""
    hosted_zone_id: Annotated[str, Field(pattern=r"^Z[A-Z0-9]{4,32}$")] | None = None
    """Route 53 zone for DNS validation, the alias record and DR failover records."""
    min_version: Literal["1.2", "1.3"] = "1.2"


class Waf(Strict):
    enabled: bool = True
    rate_limit_per_5min: Annotated[int, Field(ge=100, le=2_000_000_000)] = 2000
    """Requests per client IP per 5 minutes before WAF blocks it."""


class Audit(Strict):
    cloudtrail: bool = True
    config_rules: bool = True
    guardduty: bool = False


class Network(Strict):
    vpc_cidr: Cidr = "10.40.0.0/16"
    az_count: Literal[2, 3] | None = None
    """Availability Zones; default 3 in production, 2 elsewhere."""
    vpc_id: Annotated[str, Field(pattern=r"^vpc-[0-9a-f]{8,17}$")] | None = None
    """Use an existing VPC instead of creating one (then give both subnet lists)."""
    private_subnet_ids: list[Annotated[str, Field(pattern=r"^subnet-[0-9a-f]{8,17}$")]] = []
    public_subnet_ids: list[Annotated[str, Field(pattern=r"^subnet-[0-9a-f]{8,17}$")]] = []
    allowed_cidrs: Annotated[list[Cidr], Field(min_length=1)] = ["0.0.0.0/0"]
    """Client networks that may reach the load balancer on 443."""


class Waiver(Strict):
    check: Annotated[str, Field(pattern=r"^(CKV2?_[A-Z0-9]+_\d+|SSP_[A-Z0-9_]+)$")]
    """Policy check id, e.g. CKV_AWS_7 or SSP_KMS_001."""
    resource: Annotated[str, Field(min_length=1)]
    """Terraform address (`aws_kms_key.models`) or `*` for the whole deployment."""
    owner: Annotated[str, Field(min_length=1)]
    reason: Annotated[str, Field(min_length=10)]
    expires: dt.date
    """Waivers lapse: an expired waiver fails validation until renewed or removed."""


class Security(Strict):
    kms: Kms = Kms()
    tls: Tls
    waf: Waf = Waf()
    audit: Audit = Audit()
    network: Network = Network()
    compliance: list[Literal["gdpr", "hipaa"]] = []
    """Profiles that tighten validation and what is generated."""
    waivers: list[Waiver] = []
    """The only way to weaken a default or skip a policy check."""
