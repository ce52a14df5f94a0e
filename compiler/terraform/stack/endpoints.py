"""The VPC endpoints of one region: private subnets have no route out, so the tasks reach
S3 through a gateway endpoint and every other AWS API through interface endpoints."""

from __future__ import annotations

from compiler.terraform.hcl import Block, Expr, Ref, resource

from .network_plan import RegionNetwork

# Interface endpoints every task needs; ECS on EC2 also needs the agent's endpoints, and the
# runtime's task role puts metrics through monitoring.
INTERFACE_ENDPOINTS = ("ecr.api", "ecr.dkr", "logs", "monitoring", "secretsmanager", "kms", "sts")
EC2_AGENT_ENDPOINTS = ("ecs", "ecs-agent", "ecs-telemetry")


def services(net: RegionNetwork) -> list[str]:
    """The interface endpoints' services, sorted (the order of the file)."""
    found = [*INTERFACE_ENDPOINTS, *(EC2_AGENT_ENDPOINTS if net.ec2_agent else ())]
    return sorted(found)


def blocks(net: RegionNetwork) -> list[Block]:
    where = net.where
    found = [
        resource(
            "aws_vpc_endpoint",
            where.prefixed("s3"),
            where.on(
                {
                    "vpc_id": net.vpc_id,
                    "service_name": f"com.amazonaws.{where.name}.s3",
                    "vpc_endpoint_type": "Gateway",
                    "route_table_ids": [Ref(f"aws_route_table.{where.prefixed('private')}.id")],
                    "tags": {"Name": where.aws_name("-s3")},
                }
            ),
        )
    ]
    for service in services(net):
        found.append(
            resource(
                "aws_vpc_endpoint",
                where.prefixed(service.replace(".", "_").replace("-", "_")),
                where.on(
                    {
                        "vpc_id": net.vpc_id,
                        "service_name": f"com.amazonaws.{where.name}.{service}",
                        "vpc_endpoint_type": "Interface",
                        "private_dns_enabled": True,
                        "subnet_ids": Expr(f"aws_subnet.{where.prefixed('private')}[*].id"),
                        "security_group_ids": [
                            Ref(f"aws_security_group.{where.prefixed('endpoints')}.id")
                        ],
                        "tags": {"Name": where.aws_name(f"-{service}")},
                    }
                ),
            )
        )
    return found
