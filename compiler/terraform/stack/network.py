"""network.tf: a private VPC the tasks reach AWS from through endpoints (no NAT), or the
existing VPC and subnets the spec names."""

from __future__ import annotations

import ipaddress

from compiler.spec import ResolvedSpec
from compiler.terraform.hcl import (
    Block,
    Expr,
    Ref,
    Template,
    Value,
    data,
    jsonencode,
    resource,
    skip,
)

from . import common, region, vpc

# Interface endpoints every task needs; ECS on EC2 also needs the agent's endpoints, and the
# runtime's task role puts metrics through monitoring.
INTERFACE_ENDPOINTS = ("ecr.api", "ecr.dkr", "logs", "monitoring", "secretsmanager", "kms", "sts")
EC2_AGENT_ENDPOINTS = ("ecs", "ecs-agent", "ecs-telemetry")
# Zone letters to use, pinned (not discovered) so that a zone AWS adds later never moves a
# subnet. Most regions have a, b and c; the exceptions are listed.
ZONE_LETTERS = {"ap-northeast-1": "acd"}


def availability_zones(spec: ResolvedSpec) -> list[str]:
    letters = ZONE_LETTERS.get(spec.region, "abc")
    return [f"{spec.region}{letter}" for letter in letters[: spec.az_count]]


def subnet_cidrs(spec: ResolvedSpec) -> tuple[list[str], list[str]]:
    """(private, public): large /20-ish private subnets first, small public ones at the end."""
    vpc = ipaddress.ip_network(spec.security.network.vpc_cidr)
    private = list(vpc.subnets(new_prefix=min(vpc.prefixlen + 4, 28)))
    public = list(vpc.subnets(new_prefix=min(vpc.prefixlen + 8, 28)))
    count = spec.az_count
    return [str(n) for n in private[:count]], [str(n) for n in public[-count:]]


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


def blocks(spec: ResolvedSpec) -> list[Block]:
    # The network's locals (vpc and subnet ids, created or given) live with the network.
    found = [Block("locals", (), {**locals_(spec), **subnet_locals(spec)})]
    found += _network(spec)
    return found


def _network(spec: ResolvedSpec) -> list[Block]:
    if common.creates_vpc(spec):
        found = [*_vpc(spec), *_endpoints(spec), *_flow_logs(spec)]
    else:
        found = [data("aws_vpc", "main", {"id": spec.security.network.vpc_id})]
    return [*found, *_security_groups(spec)]


def _vpc(spec: ResolvedSpec) -> list[Block]:
    here = region.primary(spec.region)
    count = spec.az_count
    zone = Expr("local.availability_zones[count.index]")
    return [
        resource(
            "aws_vpc",
            "main",
            {
                "cidr_block": spec.security.network.vpc_cidr,
                "enable_dns_support": True,
                "enable_dns_hostnames": True,
                "tags": {"Name": Ref("local.name")},
            },
        ),
        # The default security group is never used; with no rules it admits nothing.
        resource("aws_default_security_group", "default", {"vpc_id": Ref("aws_vpc.main.id")}),
        vpc.subnets(here, "public", count, zone, Expr("local.public_subnet_cidrs[count.index]")),
        vpc.subnets(here, "private", count, zone, Expr("local.private_subnet_cidrs[count.index]")),
        *vpc.internet_gateway(here),
        vpc.association(here, "public", count),
        # Private subnets have no route to the internet: AWS APIs are reached via endpoints.
        vpc.route_table(here, "private"),
        vpc.association(here, "private", count),
    ]


def subnet_locals(spec: ResolvedSpec) -> dict[str, Value]:
    if not common.creates_vpc(spec):
        return {}
    private, public = subnet_cidrs(spec)
    return {
        "availability_zones": availability_zones(spec),
        "private_subnet_cidrs": private,
        "public_subnet_cidrs": public,
    }


def _endpoints(spec: ResolvedSpec) -> list[Block]:
    services: tuple[str, ...] = INTERFACE_ENDPOINTS
    if spec.compute.platform == "ec2":
        services = (*services, *EC2_AGENT_ENDPOINTS)
    endpoints = [
        resource(
            "aws_vpc_endpoint",
            "s3",
            {
                "vpc_id": Ref("aws_vpc.main.id"),
                "service_name": f"com.amazonaws.{spec.region}.s3",
                "vpc_endpoint_type": "Gateway",
                "route_table_ids": [Ref("aws_route_table.private.id")],
                "tags": {"Name": Template("${local.name}-s3")},
            },
        )
    ]
    for service in sorted(services):
        endpoints.append(
            resource(
                "aws_vpc_endpoint",
                service.replace(".", "_").replace("-", "_"),
                {
                    "vpc_id": Ref("aws_vpc.main.id"),
                    "service_name": f"com.amazonaws.{spec.region}.{service}",
                    "vpc_endpoint_type": "Interface",
                    "private_dns_enabled": True,
                    "subnet_ids": Expr("aws_subnet.private[*].id"),
                    "security_group_ids": [Ref("aws_security_group.endpoints.id")],
                    "tags": {"Name": Template(f"${{local.name}}-{service}")},
                },
            )
        )
    return endpoints


def _flow_logs(spec: ResolvedSpec) -> list[Block]:
    group = common.log_group_names(spec)["flow_logs"]
    return [
        common.log_group(spec, "flow_logs"),
        resource(
            "aws_iam_role",
            "flow_logs",
            {
                "name": Template("${local.name}-flow-logs"),
                "assume_role_policy": jsonencode(common.assume_role("vpc-flow-logs.amazonaws.com")),
            },
        ),
        resource(
            "aws_iam_role_policy",
            "flow_logs",
            {
                "name": "deliver-flow-logs",
                "role": Ref("aws_iam_role.flow_logs.id"),
                "policy": jsonencode(
                    common.policy(
                        common.statement(
                            "DeliverToTheFlowLogGroup",
                            [
                                "logs:CreateLogStream",
                                "logs:DescribeLogStreams",
                                "logs:PutLogEvents",
                            ],
                            [
                                common.log_group_arn(spec, group),
                                common.log_group_arn(spec, f"{group}:log-stream:*"),
                            ],
                        )
                    )
                ),
            },
        ),
        resource(
            "aws_flow_log",
            "main",
            {
                "vpc_id": Ref("aws_vpc.main.id"),
                "traffic_type": "ALL",
                "log_destination_type": "cloud-watch-logs",
                "log_destination": Ref("aws_cloudwatch_log_group.flow_logs.arn"),
                "iam_role_arn": Ref("aws_iam_role.flow_logs.arn"),
                "max_aggregation_interval": 60,
            },
        ),
    ]


def _rule(kind: str, description: str, port: int, **target: Value) -> Block:
    """One ingress or egress rule of a security group: TCP on one port."""
    body: dict[str, Value] = {"description": description, "protocol": "tcp"}
    return Block(kind, (), {**body, "from_port": port, "to_port": port, **target})


def _security_groups(spec: ResolvedSpec) -> list[Block]:
    groups = [_alb_group(spec), _tasks_group(spec)]
    if common.creates_vpc(spec):
        groups.append(_endpoints_group(spec))
    return groups


def _alb_group(spec: ResolvedSpec) -> Block:
    cidrs: Value = list(spec.security.network.allowed_cidrs)
    http_skips = []
    if "0.0.0.0/0" in spec.security.network.allowed_cidrs:
        http_skips.append(
            skip(
                "CKV_AWS_260",
                "security.network.allowed_cidrs admits 0.0.0.0/0; port 80 only answers with a "
                "301 redirect to HTTPS (aws_lb_listener.http), it never forwards",
            )
        )
    vpc: Value = [Ref("local.vpc_cidr")]
    return resource(
        "aws_security_group",
        "alb",
        [
            *http_skips,
            {
                "name": Template("${local.name}-alb"),
                "description": "Load balancer: HTTPS (and HTTP to redirect) from "
                "security.network.allowed_cidrs",
                "vpc_id": Ref("local.vpc_id"),
            },
            _rule("ingress", "HTTPS from the allowed client networks", 443, cidr_blocks=cidrs),
            _rule("ingress", "HTTP, answered only with a redirect to HTTPS", 80, cidr_blocks=cidrs),
            _rule("egress", "To the tasks on the serving port", spec.serving.port, cidr_blocks=vpc),
        ],
    )


def _tasks_group(spec: ResolvedSpec) -> Block:
    alb: Value = [Ref("aws_security_group.alb.id")]
    vpc: Value = [Ref("local.vpc_cidr")]
    return resource(
        "aws_security_group",
        "tasks",
        [
            {
                "name": Template("${local.name}-tasks"),
                "description": "Model server tasks: only the load balancer reaches them",
                "vpc_id": Ref("local.vpc_id"),
            },
            _rule(
                "ingress",
                "From the load balancer on the serving port",
                spec.serving.port,
                security_groups=alb,
            ),
            _rule(
                "egress",
                "HTTPS to AWS APIs through the VPC's interface endpoints",
                443,
                cidr_blocks=vpc,
            ),
            *_s3_egress(spec),
        ],
    )


def _endpoints_group(spec: ResolvedSpec) -> Block:
    vpc: Value = [spec.security.network.vpc_cidr]
    return resource(
        "aws_security_group",
        "endpoints",
        [
            {
                "name": Template("${local.name}-endpoints"),
                "description": "VPC interface endpoints: HTTPS from inside the VPC",
                "vpc_id": Ref("aws_vpc.main.id"),
            },
            _rule("ingress", "HTTPS from the VPC", 443, cidr_blocks=vpc),
        ],
    )


def _s3_egress(spec: ResolvedSpec) -> list[Block]:
    if not common.creates_vpc(spec):
        # An existing VPC routes to AWS APIs its own way (NAT or endpoints): HTTPS only.
        return [
            Block(
                "egress",
                (),
                {
                    "description": "HTTPS to AWS APIs through the existing VPC's routing",
                    "protocol": "tcp",
                    "from_port": 443,
                    "to_port": 443,
                    "cidr_blocks": ["0.0.0.0/0"],
                },
            )
        ]
    return [
        Block(
            "egress",
            (),
            {
                "description": "HTTPS to S3 via the gateway endpoint (model artifacts, ECR layers)",
                "protocol": "tcp",
                "from_port": 443,
                "to_port": 443,
                "prefix_list_ids": [Ref("aws_vpc_endpoint.s3.prefix_list_id")],
            },
        )
    ]
