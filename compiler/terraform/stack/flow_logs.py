"""VPC flow logs of one region: every flow of the VPC we create, to a KMS-encrypted log
group of that region, delivered by a role that may write only there."""

from __future__ import annotations

from compiler.spec import ResolvedSpec
from compiler.terraform.hcl import Block, Ref, jsonencode, resource

from . import common, dr_plan
from .network_plan import RegionNetwork
from .region import Region


def log_group(spec: ResolvedSpec, where: Region, base: str) -> Block:
    """The region's log group `base` (names: common), encrypted with the region's key."""
    if where.secondary:
        return dr_plan.log_group(spec, where.label(base))
    return common.log_group(spec, base)


def _group_name(spec: ResolvedSpec, where: Region) -> str:
    if where.secondary:
        return common.secondary_log_group_names(spec)[where.label("flow_logs")]
    return common.log_group_names(spec)["flow_logs"]


def blocks(spec: ResolvedSpec, net: RegionNetwork) -> list[Block]:
    where = net.where
    group = _group_name(spec, where)
    role = where.label("flow_logs")
    deliver = common.statement(
        "DeliverToTheFlowLogGroup",
        ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
        [
            common.arn("logs", f"log-group:{group}", where.name),
            common.arn("logs", f"log-group:{group}:log-stream:*", where.name),
        ],
    )
    return [
        log_group(spec, where, "flow_logs"),
        # IAM is global: the role has no region, only a name per region.
        resource(
            "aws_iam_role",
            role,
            {
                "name": where.aws_name("-flow-logs"),
                "assume_role_policy": jsonencode(common.assume_role("vpc-flow-logs.amazonaws.com")),
            },
        ),
        resource(
            "aws_iam_role_policy",
            role,
            {
                "name": "deliver-flow-logs",
                "role": Ref(f"aws_iam_role.{role}.id"),
                "policy": jsonencode(common.policy(deliver)),
            },
        ),
        resource(
            "aws_flow_log",
            where.main,
            where.on(
                {
                    "vpc_id": net.vpc_id,
                    "traffic_type": "ALL",
                    "log_destination_type": "cloud-watch-logs",
                    "log_destination": Ref(f"aws_cloudwatch_log_group.{role}.arn"),
                    "iam_role_arn": Ref(f"aws_iam_role.{role}.arn"),
                    "max_aggregation_interval": 60,
                }
            ),
        ),
    ]
