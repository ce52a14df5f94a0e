"""The secondary region's service (pilot light and up): load balancer with its own
certificate and WAF, task roles, and one Fargate service sized by the DR strategy.

The service runs on Fargate even when the primary uses EC2: a GPU fleet per region is the
core stack's job, and onnxruntime serves the same artifact on CPU.
"""

from __future__ import annotations

from compiler.spec import ResolvedSpec
from compiler.terraform.hcl import Block, Comment, Expr, Ref, Template, Value, resource, skip
from compiler.terraform.plan import TLS_POLICIES, api_keys, model_prefix

from . import common, dr_service
from .buckets import document
from .common import PARTITION
from .dr_plan import (
    HEALTH_PATH,
    Capacity,
    log_arn,
    models_replica_name,
    on,
    secondary_elb_name,
    secondary_key_arn,
    secondary_log_groups,
)
from .dr_service import fargate_memory, secret_replica_arn


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


def _roles(spec: ResolvedSpec) -> list[Block]:
    found: list[Block] = []
    for label, service, statements in (
        ("execution_secondary", "ecs-tasks.amazonaws.com", _execution_statements(spec)),
        ("task_secondary", "ecs-tasks.amazonaws.com", _task_statements(spec)),
    ):
        found += [
            resource(
                "aws_iam_role",
                label,
                {
                    "name": Template(f"${{local.name}}-dr-{label.removesuffix('_secondary')}"),
                    "assume_role_policy": document(common.assume_role(service)),
                },
            ),
            resource(
                "aws_iam_role_policy",
                label,
                {
                    "name": label.removesuffix("_secondary"),
                    "role": Ref(f"aws_iam_role.{label}.id"),
                    "policy": document(common.policy(*statements)),
                },
            ),
        ]
    return found


def _execution_statements(spec: ResolvedSpec) -> list[dict[str, Value]]:
    """The ECS agent in the secondary: pull the image, write logs, read the key replica."""
    group = secondary_log_groups(spec)["runtime_secondary"]
    execution = [
        common.statement(
            "PullTheImage",
            ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            "${aws_ecr_repository.runtime_secondary.arn}",
        ),
        common.statement("AuthenticateToEcr", ["ecr:GetAuthorizationToken"], "*"),
        common.statement(
            "WriteLogs",
            ["logs:CreateLogStream", "logs:PutLogEvents"],
            log_arn(spec, f"{group}:log-stream:*"),
        ),
    ]
    if api_keys(spec):
        via = f"secretsmanager.{spec.dr.secondary_region}.amazonaws.com"
        execution += [
            common.statement(
                "ReadTheApiKeys",
                ["secretsmanager:GetSecretValue"],
                secret_replica_arn(spec),
            ),
            common.statement(
                "DecryptTheApiKeys",
                ["kms:Decrypt"],
                secondary_key_arn(spec),
                {"StringEquals": {"kms:ViaService": via}},
            ),
        ]
    return execution


def _task_statements(spec: ResolvedSpec) -> list[dict[str, Value]]:
    """The model server in the secondary: read the model replica, put its metrics, and (with
    API keys) re-read the key replica itself (runtime/auth.py), by the replica's ARN pattern
    (Secrets Manager appends six random characters)."""
    replica = f"arn:{PARTITION}:s3:::{models_replica_name()}"
    region = str(spec.dr.secondary_region)
    via = [f"s3.{region}.amazonaws.com"]
    keys = []
    if api_keys(spec):
        via.append(f"secretsmanager.{region}.amazonaws.com")
        keys.append(
            common.statement(
                "ReadTheApiKeys",
                ["secretsmanager:GetSecretValue"],
                common.arn("secretsmanager", f"secret:{common.API_KEYS_SECRET}-??????", region),
            )
        )
    return [
        common.statement(
            "ListTheModelPrefix",
            ["s3:ListBucket"],
            replica,
            {"StringLike": {"s3:prefix": [f"{model_prefix(spec)}*"]}},
        ),
        common.statement("ReadTheModel", ["s3:GetObject"], f"{replica}/{model_prefix(spec)}*"),
        common.statement(
            "DecryptTheModel" + ("AndTheApiKeys" if keys else ""),
            ["kms:Decrypt"],
            secondary_key_arn(spec),
            {"StringEquals": {"kms:ViaService": via if keys else via[0]}},
        ),
        common.statement(
            "PutRuntimeMetrics",
            ["cloudwatch:PutMetricData"],
            "*",
            {"StringEquals": {"cloudwatch:namespace": spec.metrics_namespace}},
        ),
        *keys,
    ]


def blocks(spec: ResolvedSpec, capacity: Capacity) -> list[Block]:
    return [
        *_certificate(spec),
        *_load_balancer(spec),
        *_roles(spec),
        *dr_service.blocks(spec, capacity),
    ]


__all__ = ["blocks", "certificate_arn", "fargate_memory", "secret_replica_arn"]
