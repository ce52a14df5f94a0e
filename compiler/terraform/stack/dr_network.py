"""The secondary region's network (pilot light and up): a private VPC over two zones
whose tasks reach AWS through endpoints, flow logs, and security groups."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from compiler.spec import ResolvedSpec
from compiler.terraform.hcl import Attribute, Block, Call, Expr, Ref, Template, Value, resource

from . import common, region, vpc
from .buckets import document
from .dr_plan import log_arn, log_group, on, secondary_log_groups, secondary_vpc_cidr

SECONDARY_AZS = 2  # the standby spans two zones; the primary's az_count applies there
VPC_ID = Ref("aws_vpc.secondary.id")
ENDPOINTS = ("ecr.api", "ecr.dkr", "kms", "logs", "monitoring", "secretsmanager", "sts")


def secondary_subnet_cidrs(spec: ResolvedSpec) -> tuple[list[str], list[str]]:
    """(private, public) of the secondary VPC, laid out like the primary's."""
    vpc = ipaddress.ip_network(secondary_vpc_cidr(spec))
    private = list(vpc.subnets(new_prefix=min(vpc.prefixlen + 4, 28)))
    public = list(vpc.subnets(new_prefix=min(vpc.prefixlen + 8, 28)))
    return (
        [str(n) for n in private[:SECONDARY_AZS]],
        [str(n) for n in public[-SECONDARY_AZS:]],
    )


def _vpc(spec: ResolvedSpec) -> list[Block]:
    """The primary's VPC pieces (vpc.py), built in the secondary over two zones."""
    assert spec.dr.secondary_region is not None
    there = region.secondary(spec.dr.secondary_region)
    private, public = secondary_subnet_cidrs(spec)
    zone = Expr("data.aws_availability_zones.secondary.names[count.index]")
    return [
        Block(
            "data",
            ("aws_availability_zones", "secondary"),
            [
                on({"state": "available"}),
                # A closed set: the subnets never move when AWS opens a zone. Not every
                # account sees every letter (us-west-1 has b and c), so offer four.
                Block(
                    "filter",
                    (),
                    {"name": "zone-name", "values": _zone_names(spec.dr.secondary_region)},
                ),
            ],
        ),
        resource(
            "aws_vpc",
            "secondary",
            on(
                {
                    "cidr_block": secondary_vpc_cidr(spec),
                    "enable_dns_support": True,
                    "enable_dns_hostnames": True,
                    "tags": {"Name": Template("${local.name}-dr")},
                }
            ),
        ),
        # Never used; with no rules it admits nothing.
        resource("aws_default_security_group", "secondary", on({"vpc_id": VPC_ID})),
        vpc.subnets(there, "public", SECONDARY_AZS, zone, _indexed(public)),
        vpc.subnets(there, "private", SECONDARY_AZS, zone, _indexed(private)),
        *vpc.internet_gateway(there),
        # Private subnets have no route to the internet: AWS APIs through endpoints.
        vpc.route_table(there, "private"),
        vpc.association(there, "public", SECONDARY_AZS),
        vpc.association(there, "private", SECONDARY_AZS),
        *_endpoints(spec),
        *_flow_logs(spec),
    ]


def _indexed(cidrs: list[str]) -> Expr:
    return Expr(f"{_hcl_list(cidrs)}[count.index]")


def _endpoints(spec: ResolvedSpec) -> list[Block]:
    region_name = spec.dr.secondary_region
    found = [
        resource(
            "aws_vpc_endpoint",
            "secondary_s3",
            on(
                {
                    "vpc_id": VPC_ID,
                    "service_name": f"com.amazonaws.{region_name}.s3",
                    "vpc_endpoint_type": "Gateway",
                    "route_table_ids": [Ref("aws_route_table.secondary_private.id")],
                    "tags": {"Name": Template("${local.name}-dr-s3")},
                }
            ),
        )
    ]
    for service in ENDPOINTS:
        found.append(
            resource(
                "aws_vpc_endpoint",
                "secondary_" + service.replace(".", "_"),
                on(
                    {
                        "vpc_id": VPC_ID,
                        "service_name": f"com.amazonaws.{region_name}.{service}",
                        "vpc_endpoint_type": "Interface",
                        "private_dns_enabled": True,
                        "subnet_ids": Expr("aws_subnet.secondary_private[*].id"),
                        "security_group_ids": [Ref("aws_security_group.secondary_endpoints.id")],
                        "tags": {"Name": Template(f"${{local.name}}-dr-{service}")},
                    }
                ),
            )
        )
    return found


def _zone_names(region: str | None) -> list[str]:
    return [f"{region}{letter}" for letter in "abcd"]


def _hcl_list(values: Sequence[str]) -> str:
    return "[" + ", ".join(f'"{value}"' for value in values) + "]"


def _flow_logs(spec: ResolvedSpec) -> list[Block]:
    group = secondary_log_groups(spec)["flow_logs_secondary"]
    return [
        log_group(spec, "flow_logs_secondary"),
        resource(
            "aws_iam_role",
            "flow_logs_secondary",
            {
                "name": Template("${local.name}-dr-flow-logs"),
                "assume_role_policy": document(common.assume_role("vpc-flow-logs.amazonaws.com")),
            },
        ),
        resource(
            "aws_iam_role_policy",
            "flow_logs_secondary",
            {
                "name": "deliver-flow-logs",
                "role": Ref("aws_iam_role.flow_logs_secondary.id"),
                "policy": document(
                    common.policy(
                        common.statement(
                            "DeliverToTheFlowLogGroup",
                            [
                                "logs:CreateLogStream",
                                "logs:DescribeLogStreams",
                                "logs:PutLogEvents",
                            ],
                            [log_arn(spec, group), log_arn(spec, f"{group}:log-stream:*")],
                        )
                    )
                ),
            },
        ),
        resource(
            "aws_flow_log",
            "secondary",
            on(
                {
                    "vpc_id": Ref("aws_vpc.secondary.id"),
                    "traffic_type": "ALL",
                    "log_destination_type": "cloud-watch-logs",
                    "log_destination": Ref("aws_cloudwatch_log_group.flow_logs_secondary.arn"),
                    "iam_role_arn": Ref("aws_iam_role.flow_logs_secondary.arn"),
                    "max_aggregation_interval": 60,
                }
            ),
        ),
    ]


def _sg(label: str, description: str) -> Block:
    # Rules are separate resources: AWS's current model, one rule per resource, so a
    # change shows as exactly that rule in the plan.
    return resource(
        "aws_security_group",
        label,
        on(
            {
                "name": Template(f"${{local.name}}-dr-{label.removeprefix('secondary_')}"),
                "description": description,
                "vpc_id": Ref("aws_vpc.secondary.id"),
            }
        ),
    )


def _sg_rule(
    direction: str, label: str, group: str, description: str, port: int, peer: dict[str, Value]
) -> Block:
    return resource(
        f"aws_vpc_security_group_{direction}_rule",
        label,
        on(
            {
                "security_group_id": Ref(f"aws_security_group.{group}.id"),
                "description": description,
                "ip_protocol": "tcp",
                "from_port": port,
                "to_port": port,
                **peer,
            }
        ),
    )


def _security_groups(spec: ResolvedSpec) -> list[Block]:
    port = spec.serving.port
    vpc_cidr = secondary_vpc_cidr(spec)
    cidrs = list(spec.security.network.allowed_cidrs)
    found = [
        _sg("secondary_alb", "DR load balancer: HTTPS from the allowed client networks"),
        _sg("secondary_tasks", "DR model server tasks: reached only by the DR load balancer"),
        _sg("secondary_endpoints", "DR VPC interface endpoints: HTTPS from inside the VPC"),
    ]
    for index, cidr in enumerate(cidrs):
        found.append(
            _sg_rule(
                "ingress",
                f"secondary_alb_https_{index}",
                "secondary_alb",
                f"HTTPS from allowed client network {cidr}",
                443,
                {"cidr_ipv4": cidr},
            )
        )
    if "0.0.0.0/0" not in cidrs:
        # Route 53 health checkers probe from AWS's published ranges, not the clients'.
        checkers = _sg_rule(
            "ingress",
            "secondary_alb_health_checkers",
            "secondary_alb",
            "HTTPS from Route 53 health checkers",
            443,
            {"cidr_ipv4": Expr("each.value")},
        )
        found.append(
            checkers.with_items(
                Attribute(
                    "for_each",
                    Call("toset", Ref("data.aws_ip_ranges.route53_healthchecks.cidr_blocks")),
                ),
                first=True,
            )
        )
    found += [
        _sg_rule("egress", "secondary_alb_to_tasks", "secondary_alb",
                 "To the tasks on the serving port", port, {"cidr_ipv4": vpc_cidr}),
        _sg_rule("ingress", "secondary_tasks_from_alb", "secondary_tasks",
                 "From the load balancer on the serving port", port,
                 {"referenced_security_group_id": Ref("aws_security_group.secondary_alb.id")}),
        _sg_rule("egress", "secondary_tasks_to_endpoints", "secondary_tasks",
                 "HTTPS to AWS APIs through the interface endpoints", 443,
                 {"cidr_ipv4": vpc_cidr}),
        _sg_rule("egress", "secondary_tasks_to_s3", "secondary_tasks",
                 "HTTPS to S3 through the gateway endpoint (model artifacts, ECR layers)", 443,
                 {"prefix_list_id": Ref("aws_vpc_endpoint.secondary_s3.prefix_list_id")}),
        _sg_rule("ingress", "secondary_endpoints_https", "secondary_endpoints",
                 "HTTPS from the VPC", 443, {"cidr_ipv4": vpc_cidr}),
    ]  # fmt: skip
    return found


def blocks(spec: ResolvedSpec) -> list[Block]:
    found: list[Block] = []
    if "0.0.0.0/0" not in spec.security.network.allowed_cidrs:
        # Route 53's health checker ranges, admitted to the DR load balancer.
        found.append(
            Block(
                "data",
                ("aws_ip_ranges", "route53_healthchecks"),
                {"services": ["route53_healthchecks"]},
            )
        )
    return [*found, *_vpc(spec), *_security_groups(spec)]
