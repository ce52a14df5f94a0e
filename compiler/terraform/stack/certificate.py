"""The API name's ACM certificate in one region, and its Route 53 records.

ACM certificates are regional: each serving region requests its own and its listeners wait
until ACM has issued it. Route 53 is global: the validation records (ACM derives them from
the domain and the account, the same in every region) and the simple alias are written
once, with the primary (`writes_records`); dns.tf replaces the alias with failover or
latency records whenever a secondary serves. Emitted into load_balancer.tf.
"""

from __future__ import annotations

from compiler.spec import ResolvedSpec
from compiler.terraform.hcl import Block, Expr, Ref, Value, resource
from compiler.terraform.plan import Plan

from .region import Region

__all__ = ["certificate_arn", "forget_old_records", "region_blocks", "writes_records"]
# The address of the secondary's former copy of the (shared) validation records.
OLD_SECONDARY_RECORDS = "aws_route53_record.secondary_certificate_validation"


def writes_records(spec: ResolvedSpec, where: Region) -> bool:
    """Route 53 is global: the zone's records are written once, with the primary."""
    return spec.security.tls.hosted_zone_id is not None and not where.secondary


def _certificate_label(where: Region) -> str:
    return "secondary" if where.secondary else "api"


def certificate_arn(where: Region) -> Expr:
    """The region's certificate as ACM issued it: listeners wait for validation (ELB refuses
    a certificate that is still pending with UnsupportedCertificate)."""
    return Ref(f"aws_acm_certificate_validation.{_certificate_label(where)}.certificate_arn")


def region_blocks(p: Plan, where: Region) -> list[Block]:
    """ACM certificates are regional: each region requests its own, validated by the same
    CNAME. Without a zone the operator creates it (the `certificate_validation_records`
    output, RUNBOOK.md "First apply") and apply waits here until ACM has issued."""
    spec = p.spec
    tls = spec.security.tls
    label = _certificate_label(where)
    found = [
        resource(
            "aws_acm_certificate",
            label,
            [
                where.on({"domain_name": tls.domain, "validation_method": "DNS"}),
                Block("lifecycle", (), {"create_before_destroy": True}),
            ],
        )
    ]
    if writes_records(spec, where):
        found.append(_validation(spec))
    records = "aws_route53_record.certificate_validation" if tls.hosted_zone_id else None
    found.append(_waiter(where, label, records))
    if writes_records(spec, where) and not p.routes_api:
        found.append(_alias(spec, where))
    return found


def _waiter(where: Region, label: str, records: str | None) -> Block:
    body: dict[str, Value] = {"certificate_arn": Ref(f"aws_acm_certificate.{label}.arn")}
    if records is not None:
        body["validation_record_fqdns"] = Expr(f"[for record in {records} : record.fqdn]")
    return resource("aws_acm_certificate_validation", label, where.on(body))


def _validation(spec: ResolvedSpec) -> Block:
    """The CNAMEs of the primary's certificate, which are the secondary's too: its waiter
    names them, and fails if ACM ever asked that region for another record."""
    return resource(
        "aws_route53_record",
        "certificate_validation",
        {
            "for_each": Expr(
                "{\n"
                "    for option in aws_acm_certificate.api.domain_validation_options :"
                " option.domain_name => option\n"
                "  }"
            ),
            "zone_id": spec.security.tls.hosted_zone_id,
            "name": Expr("each.value.resource_record_name"),
            "type": Expr("each.value.resource_record_type"),
            "records": [Expr("each.value.resource_record_value")],
            "ttl": 300,
            "allow_overwrite": True,
        },
    )


def forget_old_records() -> Block:
    """The secondary once wrote its own copy of the validation records: the same Route 53
    record. Destroying that copy would delete the record both certificates renew by, so
    Terraform forgets it instead (the primary's resource keeps the record)."""
    return Block(
        "removed",
        (),
        [{"from": Expr(OLD_SECONDARY_RECORDS)}, Block("lifecycle", (), {"destroy": False})],
    )


def _alias(spec: ResolvedSpec, where: Region) -> Block:
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
                    "name": Ref(f"aws_lb.{where.main}.dns_name"),
                    "zone_id": Ref(f"aws_lb.{where.main}.zone_id"),
                    "evaluate_target_health": True,
                },
            ),
        ],
    )
