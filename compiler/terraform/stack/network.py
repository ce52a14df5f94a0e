"""network.tf: the primary region's network (region_network, which builds the secondary's
too): a private VPC the tasks reach AWS from through endpoints (no NAT), or the existing
VPC and subnets the spec names; and the network's locals the other views read."""

from __future__ import annotations

from compiler.spec import ResolvedSpec
from compiler.terraform.hcl import Block, Expr, Ref, Value
from compiler.terraform.plan import Plan

from . import common, network_plan, region_network


def subnet_cidrs(spec: ResolvedSpec) -> tuple[list[str], list[str]]:
    """(private, public) of the VPC the primary creates."""
    return network_plan.subnet_cidrs(spec.security.network.vpc_cidr, spec.az_count)


def locals_(spec: ResolvedSpec) -> dict[str, Value]:
    """Network locals other views use: vpc id/cidr and subnet ids, created or given."""
    net = spec.security.network
    if common.creates_vpc(spec):
        return {
            "vpc_id": Ref("aws_vpc.main.id"),
            "vpc_cidr": net.vpc_cidr,
            "private_subnet_ids": Expr("aws_subnet.private[*].id"),
            "public_subnet_ids": Expr("aws_subnet.public[*].id"),
        }
    return {
        "vpc_id": net.vpc_id,
        "vpc_cidr": Ref("data.aws_vpc.main.cidr_block"),
        "private_subnet_ids": list(net.private_subnet_ids),
        "public_subnet_ids": list(net.public_subnet_ids),
    }


def subnet_locals(spec: ResolvedSpec) -> dict[str, Value]:
    if not common.creates_vpc(spec):
        return {}
    private, public = subnet_cidrs(spec)
    return {
        "private_subnet_cidrs": private,
        "public_subnet_cidrs": public,
    }


def blocks(p: Plan) -> list[Block]:
    spec = p.spec
    # The network's locals (vpc and subnet ids, created or given) live with the network.
    found = [Block("locals", (), {**locals_(spec), **subnet_locals(spec)})]
    return [*found, *region_network.blocks(p, network_plan.primary(spec))]
