"""One region's network, built alike in the primary (network.tf) and the secondary (dr.tf):
a private VPC whose tasks reach AWS through endpoints (no NAT), its flow logs and its
security groups; or, in the primary only, the existing VPC the spec names.

What differs between the regions is decided in network_plan.RegionNetwork, so the
secondary cannot drift from the primary: the same builders make both.
"""

from __future__ import annotations

from compiler.terraform.hcl import Block, data
from compiler.terraform.plan import Plan

from . import endpoints, flow_logs, security_groups, vpc
from .network_plan import RegionNetwork


def blocks(p: Plan, net: RegionNetwork) -> list[Block]:
    spec = p.spec
    if net.creates_vpc:
        found = [*vpc.blocks(net), *endpoints.blocks(net), *flow_logs.blocks(spec, net)]
    else:
        existing = net.where.on({"id": spec.security.network.vpc_id})
        found = [data("aws_vpc", net.where.main, existing)]
    return [*found, *security_groups.blocks(spec, net)]
