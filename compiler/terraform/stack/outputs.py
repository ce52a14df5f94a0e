"""outputs.tf: what CI, the model push and on-call need from the stack."""

from __future__ import annotations

from compiler.terraform.hcl import Block, Expr, Ref, Template, Value
from compiler.terraform.plan import Plan


def _output(name: str, value: Value, description: str) -> Block:
    return Block("output", (name,), {"description": description, "value": value})


def blocks(p: Plan) -> list[Block]:
    spec = p.spec
    found = [
        _output("api_url", f"https://{p.hostname}", "Public URL of the API"),
        _output(
            "load_balancer_dns_name",
            Ref("aws_lb.main.dns_name"),
            "Point the API's DNS name here (done for you when a hosted zone is given)",
        ),
        _output(
            "ecr_repository_url",
            Ref("aws_ecr_repository.runtime.repository_url"),
            "Push runtime images here (immutable tags)",
        ),
        _output("model_bucket", Ref("aws_s3_bucket.models.id"), "Model artifact bucket"),
        _output(
            "model_artifact_uri",
            Template(f"s3://${{aws_s3_bucket.models.id}}/{p.model_prefix}{spec.model.version}/"),
            "Where `servespec model push` uploads model.version",
        ),
        _output("kms_key_arn", Ref("aws_kms_key.main.arn"), "The deployment's CMK"),
        _output("cluster_name", Ref("aws_ecs_cluster.main.name"), "ECS cluster"),
        _output(
            "service_names",
            {v.key: Ref(f"aws_ecs_service.{v.key}.name") for v in p.variants},
            "ECS service per variant",
        ),
        _output("alarm_topic_arn", Ref("aws_sns_topic.alarms.arn"), "Alarm notifications"),
    ]
    if spec.security.tls.hosted_zone_id is None:
        found.append(
            _output(
                "certificate_validation_records",
                Expr(
                    "{\n"
                    "    for option in aws_acm_certificate.api.domain_validation_options :"
                    " option.resource_record_name => option.resource_record_value\n"
                    "  }"
                ),
                "CNAME records (name => value) to create when the spec names no hosted "
                "zone: apply waits until ACM has issued the certificate",
            )
        )
    if p.api_keys:
        found.append(
            _output(
                "api_keys_secret_arn",
                Ref("aws_secretsmanager_secret.api_keys.arn"),
                "Put the API keys here (aws secretsmanager put-secret-value)",
            )
        )
    return found
