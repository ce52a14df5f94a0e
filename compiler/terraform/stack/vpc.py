"""The pieces of a VPC that both regions build alike: subnets, route tables, their
associations, the internet gateway and its route. Addresses keep the stack's labels
(`aws_subnet.public` / `aws_subnet.secondary_public`)."""

from __future__ import annotations

from compiler.terraform.hcl import Block, Expr, Ref, resource

from .region import Region


def _vpc_id(where: Region) -> Expr:
    return Ref(f"aws_vpc.{where.main}.id")


def subnets(where: Region, tier: str, count: int, zone: Expr, cidr: Expr) -> Block:
    """One subnet of `tier` per zone: `zone` and `cidr` are indexed by count.index."""
    return resource(
        "aws_subnet",
        where.prefixed(tier),
        where.on(
            {
                "count": count,
                "vpc_id": _vpc_id(where),
                "availability_zone": zone,
                "cidr_block": cidr,
                "map_public_ip_on_launch": False,
                "tags": {"Name": where.aws_name(f"-{tier}-${{count.index}}"), "tier": tier},
            }
        ),
    )


def route_table(where: Region, tier: str) -> Block:
    return resource(
        "aws_route_table",
        where.prefixed(tier),
        where.on({"vpc_id": _vpc_id(where), "tags": {"Name": where.aws_name(f"-{tier}")}}),
    )


def association(where: Region, tier: str, count: int) -> Block:
    label = where.prefixed(tier)
    return resource(
        "aws_route_table_association",
        label,
        where.on(
            {
                "count": count,
                "subnet_id": Expr(f"aws_subnet.{label}[count.index].id"),
                "route_table_id": Ref(f"aws_route_table.{label}.id"),
            }
        ),
    )


def internet_gateway(where: Region) -> list[Block]:
    """The gateway of the public subnets, and their default route through it."""
    name = where.aws_name() if where.secondary else Ref("local.name")
    return [
        resource(
            "aws_internet_gateway",
            where.main,
            where.on({"vpc_id": _vpc_id(where), "tags": {"Name": name}}),
        ),
        route_table(where, "public"),
        resource(
            "aws_route",
            where.prefixed("public_internet"),
            where.on(
                {
                    "route_table_id": Ref(f"aws_route_table.{where.prefixed('public')}.id"),
                    "destination_cidr_block": "0.0.0.0/0",
                    "gateway_id": Ref(f"aws_internet_gateway.{where.main}.id"),
                }
            ),
        ),
    ]


__all__ = ["association", "internet_gateway", "route_table", "subnets"]
