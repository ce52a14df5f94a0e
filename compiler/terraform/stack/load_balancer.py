"""load_balancer.tf: each serving region's public ALB (HTTPS only, HTTP redirects), its
certificate, and its target groups.

One builder (`region_blocks`) for the primary and, when it serves (pilot light and up),
the secondary region: the same TLS policy, access logs, deletion protection, health check,
draining and idle timeout in both. What differs is decided here, each in one function:

    target groups  primary: one per variant (a blue/green pair each) behind a weighted,
                   sticky listener rule; secondary: one, for plan.serving_variant, that the
                   HTTPS listener forwards to directly (`_serves_one_group`)
    names          plan.load_balancer / plan.secondary_load_balancer
    Route 53       global, so written once, with the primary (certificate.py)
"""

from __future__ import annotations

from compiler.spec import ResolvedSpec
from compiler.terraform.hcl import Block, Expr, Ref, Value, resource, skip
from compiler.terraform.plan import (
    TLS_POLICIES,
    Plan,
    elb_name,
    idle_timeout_s,
)

from . import certificate, network_plan, region
from .dr_plan import HEALTH_PATH
from .region import Region

__all__ = ["TLS_POLICIES", "blocks", "elb_name", "region_blocks"]


def blocks(p: Plan) -> list[Block]:
    """The primary's load balancer, and the same one in the secondary region when it serves."""
    found = region_blocks(p, region.primary(p.region))
    if p.secondary_region is not None and p.secondary_capacity is not None:
        found += region_blocks(p, region.secondary(p.secondary_region))
        if p.hosted_zone_id:
            found.append(certificate.forget_old_records())
    return found


def region_blocks(p: Plan, where: Region) -> list[Block]:
    """One region's load balancer, certificate, listeners and target groups."""
    spec = p.spec
    found = [_load_balancer(p, where), *certificate.region_blocks(p, where)]
    if _redirects_http(spec, where):
        found.append(_http_listener(where))
    found.append(_https_listener(spec, where))
    if not _serves_one_group(where):
        found.append(_api_rule(p))
    return found + [
        _target_group(spec, where, label, name) for label, name in _target_groups(p, where).items()
    ]


def _serves_one_group(where: Region) -> bool:
    """The secondary serves plan.serving_variant alone, deployed rolling (A/B splits and
    canaries are the primary's business, dr.py): one target group, forwarded to directly."""
    return where.secondary


def _redirects_http(spec: ResolvedSpec, where: Region) -> bool:
    """Port 80 answers with a redirect where the network opens it (security_groups.py)."""
    net = network_plan.secondary(spec) if where.secondary else network_plan.primary(spec)
    return net.redirects_http


def _target_groups(p: Plan, where: Region) -> dict[str, str]:
    """Target group label -> AWS name."""
    if _serves_one_group(where):
        return {where.main: p.secondary_load_balancer}
    return {
        label: elb_name(f"{p.name}-{label.replace('_alt', '-g').replace('_', '-')}")
        for label in p.target_groups
    }


def _subnets(where: Region) -> Expr:
    # The secondary always has its own VPC (network_plan.secondary); the primary's may be given.
    return (
        Expr("aws_subnet.secondary_public[*].id")
        if where.secondary
        else Ref("local.public_subnet_ids")
    )


def _vpc_id(where: Region) -> Expr:
    return Ref("aws_vpc.secondary.id") if where.secondary else Ref("local.vpc_id")


def _load_balancer(p: Plan, where: Region) -> Block:
    spec = p.spec
    skips = []
    if not spec.production:
        skips.append(
            skip(
                "CKV_AWS_150",
                f"environment {spec.environment} is not production (production: false): "
                "its load balancer may be replaced without a manual step",
            )
        )
    logs = where.label("logs")
    return resource(
        "aws_lb",
        where.main,
        [
            *skips,
            where.on(
                {
                    "name": p.secondary_load_balancer if where.secondary else p.load_balancer,
                    "load_balancer_type": "application",
                    "internal": False,
                    "security_groups": [Ref(f"aws_security_group.{where.prefixed('alb')}.id")],
                    "subnets": _subnets(where),
                    "drop_invalid_header_fields": True,
                    "enable_deletion_protection": spec.production,
                    "idle_timeout": idle_timeout_s(spec),
                }
            ),
            Block(
                "access_logs",
                (),
                {"bucket": Ref(f"aws_s3_bucket.{logs}.id"), "prefix": "alb", "enabled": True},
            ),
            {"depends_on": [Ref(f"aws_s3_bucket_policy.{logs}")]},
        ],
    )


def _http_listener(where: Region) -> Block:
    return resource(
        "aws_lb_listener",
        where.prefixed("http"),
        [
            where.on(
                {
                    "load_balancer_arn": Ref(f"aws_lb.{where.main}.arn"),
                    "port": 80,
                    "protocol": "HTTP",
                }
            ),
            Block(
                "default_action",
                (),
                [
                    {"type": "redirect"},
                    Block(
                        "redirect",
                        (),
                        {"port": "443", "protocol": "HTTPS", "status_code": "HTTP_301"},
                    ),
                ],
            ),
        ],
    )


def _https_listener(spec: ResolvedSpec, where: Region) -> Block:
    return resource(
        "aws_lb_listener",
        where.prefixed("https"),
        [
            where.on(
                {
                    "load_balancer_arn": Ref(f"aws_lb.{where.main}.arn"),
                    "port": 443,
                    "protocol": "HTTPS",
                    "ssl_policy": TLS_POLICIES[spec.security.tls.min_version],
                    "certificate_arn": certificate.certificate_arn(where),
                }
            ),
            _default_action(where),
        ],
    )


def _default_action(where: Region) -> Block:
    if _serves_one_group(where):
        target: dict[str, Value] = {
            "type": "forward",
            "target_group_arn": Ref(f"aws_lb_target_group.{where.main}.arn"),
        }
        return Block("default_action", (), target)
    # Requests match the API rule; anything else is a JSON 404.
    return Block(
        "default_action",
        (),
        [
            {"type": "fixed-response"},
            Block(
                "fixed_response",
                (),
                {
                    "content_type": "application/json",
                    "message_body": '{"error":{"message":"not found","type":"not_found"}}',
                    "status_code": "404",
                },
            ),
        ],
    )


def _forward_targets(p: Plan) -> list[Block]:
    targets = []
    for variant in p.variants:
        targets.append(
            Block(
                "target_group",
                (),
                {"arn": Ref(f"aws_lb_target_group.{variant.key}.arn"), "weight": variant.weight},
            )
        )
        if p.blue_green:
            targets.append(
                Block(
                    "target_group",
                    (),
                    {"arn": Ref(f"aws_lb_target_group.{variant.key}_alt.arn"), "weight": 0},
                )
            )
    return targets


def _api_rule(p: Plan) -> Block:
    body: list[Block | dict[str, Value]] = [
        {"listener_arn": Ref("aws_lb_listener.https.arn"), "priority": 100},
        Block(
            "action",
            (),
            [
                {"type": "forward"},
                Block(
                    "forward",
                    (),
                    [
                        *_forward_targets(p),
                        # A/B: a client stays on its variant (ALB cookie, a day).
                        Block("stickiness", (), _stickiness(p.spec)),
                    ],
                ),
            ],
        ),
        Block("condition", (), [Block("path_pattern", (), {"values": ["/*"]})]),
    ]
    if p.blue_green:
        # ECS shifts the weights between the blue and green target groups on every
        # deployment (deployment.strategy); Terraform must not shift them back.
        body.append(Block("lifecycle", (), {"ignore_changes": [Expr("action")]}))
    return resource("aws_lb_listener_rule", "api", body)


def _target_group(spec: ResolvedSpec, where: Region, label: str, name: str) -> Block:
    return resource(
        "aws_lb_target_group",
        label,
        [
            skip(
                "CKV_AWS_378",
                f"TLS {spec.security.tls.min_version}+ terminates at the load balancer "
                f"(security.tls); targets sit in private subnets and accept only the load "
                f"balancer's security group on serving.port {spec.serving.port}",
            ),
            where.on(
                {
                    "name": name,
                    "port": spec.serving.port,
                    "protocol": "HTTP",
                    "target_type": "ip",
                    "vpc_id": _vpc_id(where),
                    # In-flight streams get the runtime's whole shutdown grace to finish.
                    "deregistration_delay": spec.serving.shutdown_grace_s,
                }
            ),
            Block(
                "health_check",
                (),
                {
                    "enabled": True,
                    "path": HEALTH_PATH,
                    "protocol": "HTTP",
                    "matcher": "200",
                    "interval": 15,
                    "timeout": 5,
                    "healthy_threshold": 2,
                    "unhealthy_threshold": 3,
                },
            ),
        ],
    )


def _stickiness(spec: ResolvedSpec) -> dict[str, Value]:
    return (
        {"enabled": True, "duration": 86400} if spec.variants else {"enabled": False, "duration": 1}
    )
