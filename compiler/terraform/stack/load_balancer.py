"""load_balancer.tf: the public ALB (HTTPS only, HTTP redirects), its certificate, and one
target group per variant with the spec's weights on the production listener rule."""

from __future__ import annotations

from compiler.spec import ResolvedSpec
from compiler.terraform.hcl import Block, Expr, Ref, Value, resource, skip
from compiler.terraform.plan import TLS_POLICIES, blue_green, elb_name, routes_api, target_groups

from . import common

__all__ = ["TLS_POLICIES", "blocks", "certificate_arn", "elb_name"]


def certificate_arn(spec: ResolvedSpec) -> Expr:
    """The certificate as ACM issued it: listeners wait for validation (ELB refuses a
    certificate that is still pending with UnsupportedCertificate)."""
    return Ref("aws_acm_certificate_validation.api.certificate_arn")


def blocks(spec: ResolvedSpec) -> list[Block]:
    return [
        _load_balancer(spec),
        *_certificate(spec),
        _http_listener(),
        _https_listener(spec),
        _api_rule(spec),
        *_target_groups(spec),
    ]


def _load_balancer(spec: ResolvedSpec) -> Block:
    skips = []
    if not spec.production:
        skips.append(
            skip(
                "CKV_AWS_150",
                f"environment {spec.environment} is not production (production: false): "
                "its load balancer may be replaced without a manual step",
            )
        )
    return resource(
        "aws_lb",
        "main",
        [
            *skips,
            {
                "name": elb_name(common.name(spec)),
                "load_balancer_type": "application",
                "internal": False,
                "security_groups": [Ref("aws_security_group.alb.id")],
                "subnets": Ref("local.public_subnet_ids"),
                "drop_invalid_header_fields": True,
                "enable_deletion_protection": spec.production,
                # Streams stay open for the whole request; the ALB must not cut them first.
                "idle_timeout": max(60, spec.serving.request_timeout_s + 5),
            },
            Block(
                "access_logs",
                (),
                {"bucket": Ref("aws_s3_bucket.logs.id"), "prefix": "alb", "enabled": True},
            ),
            {"depends_on": [Ref("aws_s3_bucket_policy.logs")]},
        ],
    )


def _certificate(spec: ResolvedSpec) -> list[Block]:
    tls = spec.security.tls
    found = [
        resource(
            "aws_acm_certificate",
            "api",
            [
                {"domain_name": tls.domain, "validation_method": "DNS"},
                Block("lifecycle", (), {"create_before_destroy": True}),
            ],
        )
    ]
    if not tls.hosted_zone_id:
        # No zone to write the validation record into: the operator creates the CNAME that
        # the `certificate_validation_records` output names (RUNBOOK.md, "First apply"),
        # and apply waits here until ACM has issued the certificate.
        return [*found, _waiter("api", "aws_acm_certificate.api.arn", None)]
    return [*found, *_validation(spec), *([] if _dns_routes_api(spec) else [_alias(spec)])]


def _waiter(label: str, certificate: str, records: str | None) -> Block:
    body: dict[str, Value] = {"certificate_arn": Ref(certificate)}
    if records is not None:
        body["validation_record_fqdns"] = Expr(f"[for record in {records} : record.fqdn]")
    return resource("aws_acm_certificate_validation", label, body)


def _dns_routes_api(spec: ResolvedSpec) -> bool:
    return routes_api(spec)


def _validation(spec: ResolvedSpec) -> list[Block]:
    tls = spec.security.tls
    return [
        resource(
            "aws_route53_record",
            "certificate_validation",
            {
                "for_each": Expr(
                    "{\n"
                    "    for option in aws_acm_certificate.api.domain_validation_options :"
                    " option.domain_name => option\n"
                    "  }"
                ),
                "zone_id": tls.hosted_zone_id,
                "name": Expr("each.value.resource_record_name"),
                "type": Expr("each.value.resource_record_type"),
                "records": [Expr("each.value.resource_record_value")],
                "ttl": 300,
                "allow_overwrite": True,
            },
        ),
        _waiter("api", "aws_acm_certificate.api.arn", "aws_route53_record.certificate_validation"),
    ]


def _alias(spec: ResolvedSpec) -> Block:
    """The API name, when no DR routing (dns.tf) owns it."""
    tls = spec.security.tls
    return resource(
        "aws_route53_record",
        "api",
        [
            {"zone_id": tls.hosted_zone_id, "name": tls.domain, "type": "A"},
            Block(
                "alias",
                (),
                {
                    "name": Ref("aws_lb.main.dns_name"),
                    "zone_id": Ref("aws_lb.main.zone_id"),
                    "evaluate_target_health": True,
                },
            ),
        ],
    )


def _http_listener() -> Block:
    return resource(
        "aws_lb_listener",
        "http",
        [
            {"load_balancer_arn": Ref("aws_lb.main.arn"), "port": 80, "protocol": "HTTP"},
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


def _https_listener(spec: ResolvedSpec) -> Block:
    return resource(
        "aws_lb_listener",
        "https",
        [
            {
                "load_balancer_arn": Ref("aws_lb.main.arn"),
                "port": 443,
                "protocol": "HTTPS",
                "ssl_policy": TLS_POLICIES[spec.security.tls.min_version],
                "certificate_arn": certificate_arn(spec),
            },
            # Requests match the API rule below; anything else is a JSON 404.
            Block(
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
            ),
        ],
    )


def _forward_targets(spec: ResolvedSpec) -> list[Block]:
    targets = []
    for variant in common.variants(spec):
        targets.append(
            Block(
                "target_group",
                (),
                {"arn": Ref(f"aws_lb_target_group.{variant.key}.arn"), "weight": variant.weight},
            )
        )
        if blue_green(spec):
            targets.append(
                Block(
                    "target_group",
                    (),
                    {"arn": Ref(f"aws_lb_target_group.{variant.key}_alt.arn"), "weight": 0},
                )
            )
    return targets


def _api_rule(spec: ResolvedSpec) -> Block:
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
                        *_forward_targets(spec),
                        # A/B: a client stays on its variant (ALB cookie, a day).
                        Block("stickiness", (), _stickiness(spec)),
                    ],
                ),
            ],
        ),
        Block("condition", (), [Block("path_pattern", (), {"values": ["/*"]})]),
    ]
    if blue_green(spec):
        # ECS shifts the weights between the blue and green target groups on every
        # deployment (deployment.strategy); Terraform must not shift them back.
        body.append(Block("lifecycle", (), {"ignore_changes": [Expr("action")]}))
    return resource("aws_lb_listener_rule", "api", body)


def _target_groups(spec: ResolvedSpec) -> list[Block]:
    return [_target_group(spec, label) for label in target_groups(spec)]


def _target_group(spec: ResolvedSpec, label: str) -> Block:
    suffix = label.replace("_alt", "-g").replace("_", "-")
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
            {
                "name": elb_name(f"{common.name(spec)}-{suffix}"),
                "port": spec.serving.port,
                "protocol": "HTTP",
                "target_type": "ip",
                "vpc_id": Ref("local.vpc_id"),
                # In-flight streams get the runtime's whole shutdown grace to finish.
                "deregistration_delay": spec.serving.shutdown_grace_s,
            },
            Block(
                "health_check",
                (),
                {
                    "enabled": True,
                    "path": "/readyz",
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
