"""Where a region's service finds what it uses: the region's key, log groups, model bucket,
API-key secret, registry, private subnets and task security group.

The builders that render a `Fleet` in either region (compute.py, scaling.py, iam.py) ask
here, so that the secondary's addresses are named in one place and its resources cannot
drift from the primary's. Names and labels are the ones the stack has always had.
"""

from __future__ import annotations

from compiler.spec import ResolvedSpec
from compiler.terraform.hcl import Block, Expr, Ref, Template, Value
from compiler.terraform.plan import Fleet, Plan

from . import common, dr_plan, region
from .region import Region


def fleets(p: Plan) -> list[tuple[Region, Fleet]]:
    """The regions that run the service, the primary first, with what each runs."""
    found = [(region.primary(p.region), p.fleet)]
    if p.secondary_fleet is not None and p.secondary_region is not None:
        found.append((region.secondary(p.secondary_region), p.secondary_fleet))
    return found


def key_arn(spec: ResolvedSpec, where: Region) -> Value:
    """The key that encrypts everything in the region."""
    return dr_plan.secondary_key_arn(spec) if where.secondary else Ref("aws_kms_key.main.arn")


def log_group_name(spec: ResolvedSpec, where: Region, base: str) -> str:
    """The name of the log group labelled `base` in the primary (the same in both regions,
    WAF's aside: plan.secondary_log_group_names)."""
    if where.secondary:
        return common.secondary_log_group_names(spec)[where.label(base)]
    return common.log_group_names(spec)[base]


def log_group(spec: ResolvedSpec, where: Region, base: str) -> Block:
    if where.secondary:
        return dr_plan.log_group(spec, where.label(base))
    return common.log_group(spec, base)


def models_bucket(where: Region) -> str:
    """The model bucket the region's tasks read: the primary's, or its replica."""
    return dr_plan.models_replica_name() if where.secondary else common.MODELS_BUCKET


def api_keys_arn(spec: ResolvedSpec, where: Region) -> Value:
    """The API-key secret, or its replica in the secondary (same name and suffix)."""
    arn = "aws_secretsmanager_secret.api_keys.arn"
    if not where.secondary:
        return Ref(arn)
    return Expr(f'replace({arn}, ":{spec.region}:", ":{where.name}:")')


def image(where: Region) -> Template:
    """The runtime image (same repository name and tag) in the region's registry, which
    registry replication fills in the secondary."""
    return Template(
        f"${{local.account_id}}.dkr.ecr.{where.name}.amazonaws.com/${{local.name}}:${{var.image_tag}}"
    )


def private_subnets(where: Region) -> Value:
    if where.secondary:
        return Expr("aws_subnet.secondary_private[*].id")
    return Ref("local.private_subnet_ids")


def tasks_security_group(where: Region) -> Expr:
    return Ref(f"aws_security_group.{where.prefixed('tasks')}.id")


def listener(where: Region) -> Expr:
    """What forwards the API to the region's target groups (ECS needs the target group on
    a load balancer before it creates the service): the primary's routing rule, the
    secondary's HTTPS listener (it serves one variant)."""
    if where.secondary:
        return Ref("aws_lb_listener.secondary_https")
    return Ref("aws_lb_listener_rule.api")
