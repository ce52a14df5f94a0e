"""The secondary region's entry (pilot light and up): load balancer with its own
certificate. Its service, scaling and roles are the primary's builders' (compute.py,
scaling.py, iam.py with plan.Fleet); its WAF is waf.py's.
"""

from __future__ import annotations

from compiler.spec import ResolvedSpec
from compiler.terraform.hcl import Block, Comment, Expr, Ref, resource, skip
from compiler.terraform.plan import TLS_POLICIES

from .dr_plan import (
    HEALTH_PATH,
    Capacity,
    on,
    secondary_elb_name,
)


def _certificate(spec: ResolvedSpec) -> list[Block]:
    tls = spec.security.tls
    found = [
        resource(
            "aws_acm_certificate",
            "secondary",
            [
                on({"domain_name": tls.domain, "validation_method": "DNS"}),
                Block("lifecycle", (), {"create_before_destroy": True}),
            ],
        )
    ]
    if tls.hosted_zone_id is None:
        # The CNAME is the same as the primary's (ACM derives it from the domain and the
        # account), created by the operator; apply waits for the issued certificate.
        waiter = on({"certificate_arn": Ref("aws_acm_certificate.secondary.arn")})
        return [*found, resource("aws_acm_certificate_validation", "secondary", waiter)]
    options = "aws_acm_certificate.secondary.domain_validation_options"
    found += [
        resource(
            "aws_route53_record",
            "secondary_certificate_validation",
            {
                "for_each": Expr(f"{{ for o in {options} : o.domain_name => o }}"),
                "zone_id": tls.hosted_zone_id,
                "name": Expr("each.value.resource_record_name"),
                "type": Expr("each.value.resource_record_type"),
                "records": [Expr("each.value.resource_record_value")],
                "ttl": 300,
                # ACM asks every region for the same record; the primary's may already exist.
                "allow_overwrite": True,
            },
        ),
        resource(
            "aws_acm_certificate_validation",
            "secondary",
            on(
                {
                    "certificate_arn": Ref("aws_acm_certificate.secondary.arn"),
                    "validation_record_fqdns": Expr(
                        "[for r in aws_route53_record.secondary_certificate_validation : r.fqdn]"
                    ),
                }
            ),
        ),
    ]
    return found


def certificate_arn(spec: ResolvedSpec) -> Expr:
    return Ref("aws_acm_certificate_validation.secondary.certificate_arn")


def _deletion_protection_skip(spec: ResolvedSpec) -> list[Comment]:
    if spec.production:
        return []
    return [
        skip(
            "CKV_AWS_150",
            f"production is false for {spec.environment}: its DR load balancer is replaced "
            "freely; production environments get deletion protection",
        )
    ]


def _load_balancer(spec: ResolvedSpec) -> list[Block]:
    return [_secondary_lb(spec), _secondary_target_group(spec), _secondary_listener(spec)]


def _secondary_lb(spec: ResolvedSpec) -> Block:
    return resource(
        "aws_lb",
        "secondary",
        [
            *_deletion_protection_skip(spec),
            on(
                {
                    "name": secondary_elb_name(spec),
                    "load_balancer_type": "application",
                    "internal": False,
                    "subnets": Expr("aws_subnet.secondary_public[*].id"),
                    "security_groups": [Ref("aws_security_group.secondary_alb.id")],
                    "drop_invalid_header_fields": True,
                    "enable_deletion_protection": spec.production,
                    "idle_timeout": max(60, spec.serving.request_timeout_s + 5),
                }
            ),
            Block(
                "access_logs",
                (),
                {
                    "bucket": Ref("aws_s3_bucket.logs_secondary.id"),
                    "prefix": "alb",
                    "enabled": True,
                },
            ),
            {"depends_on": [Ref("aws_s3_bucket_policy.logs_secondary")]},
        ],
    )


def _secondary_target_group(spec: ResolvedSpec) -> Block:
    port = spec.serving.port
    return resource(
        "aws_lb_target_group",
        "secondary",
        [
            skip(
                "CKV_AWS_378",
                "TLS ends at the load balancer (listener uses "
                f"{TLS_POLICIES[spec.security.tls.min_version]}); targets "
                "are tasks in private subnets reached over the VPC, and the runtime "
                "serves plain HTTP",
            ),
            on(
                {
                    "name": secondary_elb_name(spec),
                    "port": port,
                    "protocol": "HTTP",
                    "target_type": "ip",
                    "vpc_id": Ref("aws_vpc.secondary.id"),
                    "deregistration_delay": spec.serving.shutdown_grace_s,
                }
            ),
            Block(
                "health_check",
                (),
                {
                    "path": HEALTH_PATH,
                    "matcher": "200",
                    "interval": 15,
                    "timeout": 5,
                    "healthy_threshold": 2,
                    "unhealthy_threshold": 3,
                },
            ),
        ],
    )


def _secondary_listener(spec: ResolvedSpec) -> Block:
    return resource(
        "aws_lb_listener",
        "secondary_https",
        [
            on(
                {
                    "load_balancer_arn": Ref("aws_lb.secondary.arn"),
                    "port": 443,
                    "protocol": "HTTPS",
                    "ssl_policy": TLS_POLICIES[spec.security.tls.min_version],
                    "certificate_arn": certificate_arn(spec),
                }
            ),
            Block(
                "default_action",
                (),
                {
                    "type": "forward",
                    "target_group_arn": Ref("aws_lb_target_group.secondary.arn"),
                },
            ),
        ],
    )


def blocks(spec: ResolvedSpec, capacity: Capacity) -> list[Block]:
    return [
        *_certificate(spec),
        *_load_balancer(spec),
    ]


__all__ = ["blocks", "certificate_arn"]
