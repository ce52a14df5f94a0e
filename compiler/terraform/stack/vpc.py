"""The VPC that both regions build alike: the VPC, its zones and subnets, route tables,
their associations, the internet gateway and its route. Addresses keep the stack's labels
(`aws_subnet.public` / `aws_subnet.secondary_public`)."""

from __future__ import annotations

from compiler.terraform.hcl import Block, Expr, Ref, Value, data, resource

from .network_plan import RegionNetwork
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
    name = where.aws_name()
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


def blocks(net: RegionNetwork) -> list[Block]:
    """A VPC of our own: public subnets behind the internet gateway (the load balancer),
    private ones with no route out (tasks reach AWS through the endpoints)."""
    assert net.cidr is not None, "an existing VPC is the spec's, not ours to build"
    where, count = net.where, net.az_count
    return [
        *_zones(net),
        resource(
            "aws_vpc",
            where.main,
            where.on(
                {
                    "cidr_block": net.cidr,
                    "enable_dns_support": True,
                    "enable_dns_hostnames": True,
                    "tags": {"Name": where.aws_name()},
                }
            ),
        ),
        # The default security group is never used; with no rules it admits nothing.
        resource(
            "aws_default_security_group", where.label("default"), where.on({"vpc_id": net.vpc_id})
        ),
        subnets(where, "public", count, net.zone, net.public_cidr),
        subnets(where, "private", count, net.zone, net.private_cidr),
        *internet_gateway(where),
        association(where, "public", count),
        # Private subnets have no route to the internet: AWS APIs are reached via endpoints.
        route_table(where, "private"),
        association(where, "private", count),
    ]


def _zones(net: RegionNetwork) -> list[Block]:
    """The region's Availability Zones as this account names them, read rather than pinned:
    in the oldest regions letters are mapped per account (one account's us-west-1 has a and
    c, another's b and c), so a pinned `us-west-1a` fails the first apply in some accounts.

    Read from a closed set of names (`ZONE_LETTERS`; Local Zones have other names), in every
    state: with `state = "available"` an impaired zone would leave the list during an outage
    and move every later subnet to another zone, a replacement planned exactly when the
    region is in trouble. Too few zones stop the plan with what to change in the spec, not
    an index error.
    """
    where, count = net.where, net.az_count
    check: dict[str, Value] = {
        "condition": Expr(f"length(self.names) >= {count}"),
        "error_message": f"This account has fewer than {count} Availability Zones in "
        f"{where.name}: {net.zones_hint}.",
    }
    return [
        data(
            "aws_availability_zones",
            where.main,
            [
                where.on({}),
                Block("filter", (), {"name": "zone-name", "values": list(net.zone_candidates)}),
                Block("lifecycle", (), [Block("postcondition", (), check)]),
            ],
        )
    ]


__all__ = ["association", "blocks", "internet_gateway", "route_table", "subnets"]
