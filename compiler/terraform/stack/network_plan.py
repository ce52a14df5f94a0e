"""The network of one region, decided once: the facts the region builders read.

The primary and the secondary region build their network with the same builders (vpc.py,
endpoints.py, flow_logs.py, security_groups.py). What truly differs between the regions
is a fact here, never a second copy of a builder:

- the secondary always creates its own VPC (the block after the primary's, two zones),
  even when the primary runs in an existing VPC;
- the secondary runs Fargate, so it needs no ECS agent endpoints;
- with restricted client networks the secondary admits Route 53's health checkers (the
  primary is judged by a CloudWatch alarm instead: dns.py).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from compiler.spec import ResolvedSpec
from compiler.terraform.hcl import Expr, Ref, Value
from compiler.terraform.plan import creates_vpc

from . import region
from .dr_plan import secondary_vpc_cidr
from .region import Region

SECONDARY_AZS = 2  # the standby spans two zones; the primary's az_count applies there
# The zone letters a region's subnets may use: a closed set (checkov's CKV_AWS_394), so a
# zone AWS opens later never joins it; us-east-1, the widest region, goes up to f.
ZONE_LETTERS = "abcdef"
ANYWHERE = "0.0.0.0/0"


@dataclass(frozen=True)
class RegionNetwork:
    where: Region
    creates_vpc: bool
    cidr: str | None  # the block of the VPC we create; None: the spec's existing VPC
    az_count: int
    zones_hint: str  # what the spec can change when the region has too few zones
    private_cidr: Expr  # the block of private subnet count.index
    public_cidr: Expr
    ec2_agent: bool  # ECS on EC2: the agent's endpoints too
    redirects_http: bool  # port 80 is open for the load balancer's redirect to HTTPS
    admits_health_checkers: bool  # Route 53's checkers reach the load balancer

    @property
    def vpc_id(self) -> Expr:
        return Ref(f"aws_vpc.{self.where.main}.id") if self.creates_vpc else Ref("local.vpc_id")

    @property
    def zone_candidates(self) -> tuple[str, ...]:
        return tuple(f"{self.where.name}{letter}" for letter in ZONE_LETTERS)

    @property
    def zone(self) -> Expr:
        """The zone of subnet count.index: the region's zones as this account names them
        (vpc.zones reads them; names are per account in the oldest regions, so no letter
        can be pinned)."""
        return Expr(f"sort(data.aws_availability_zones.{self.where.main}.names)[count.index]")

    @property
    def vpc_cidr(self) -> Value:
        """A literal where we know it (checkov reads literals), else the existing VPC's."""
        return self.cidr if self.cidr is not None else Ref("local.vpc_cidr")


def subnet_cidrs(cidr: str, count: int) -> tuple[list[str], list[str]]:
    """(private, public): large /20-ish private subnets first, small public ones at the end."""
    vpc = ipaddress.ip_network(cidr)
    private = list(vpc.subnets(new_prefix=min(vpc.prefixlen + 4, 28)))
    public = list(vpc.subnets(new_prefix=min(vpc.prefixlen + 8, 28)))
    return [str(n) for n in private[:count]], [str(n) for n in public[-count:]]


def primary(spec: ResolvedSpec) -> RegionNetwork:
    """The spec's network: created (zones and blocks in network.tf's locals) or existing."""
    creates = creates_vpc(spec)
    return RegionNetwork(
        where=region.primary(spec.region),
        creates_vpc=creates,
        cidr=spec.security.network.vpc_cidr if creates else None,
        az_count=spec.az_count,
        zones_hint=(
            "set security.network.az_count to 2" if spec.az_count > 2 else "choose another region"
        ),
        private_cidr=Expr("local.private_subnet_cidrs[count.index]"),
        public_cidr=Expr("local.public_subnet_cidrs[count.index]"),
        ec2_agent=spec.compute.platform == "ec2",
        redirects_http=True,
        admits_health_checkers=False,
    )


def secondary(spec: ResolvedSpec) -> RegionNetwork:
    """The DR region's network: always a VPC of its own, over two zones."""
    assert spec.dr.secondary_region is not None
    where = region.secondary(spec.dr.secondary_region)
    cidr = secondary_vpc_cidr(spec)
    private, public = subnet_cidrs(cidr, SECONDARY_AZS)
    return RegionNetwork(
        where=where,
        creates_vpc=True,
        cidr=cidr,
        az_count=SECONDARY_AZS,
        zones_hint="choose another dr.secondary_region",
        private_cidr=_indexed(private),
        public_cidr=_indexed(public),
        ec2_agent=False,  # the secondary runs Fargate (dr.py)
        redirects_http=True,  # clients sent there on failover get the primary's redirect
        admits_health_checkers=ANYWHERE not in spec.security.network.allowed_cidrs,
    )


def _indexed(cidrs: list[str]) -> Expr:
    return Expr("[" + ", ".join(f'"{cidr}"' for cidr in cidrs) + "][count.index]")
