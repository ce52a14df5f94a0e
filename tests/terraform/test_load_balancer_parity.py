"""Drift: the secondary region's load balancer, listeners, target group and certificate are
the primary's, block for block, once region, provider, labels and names are normalised.

Both come from load_balancer.region_blocks today; this fails when either region gets a
setting the other lacks (TLS policy, access logs, deletion protection, health check,
draining, idle timeout, skips) other than the documented differences, asserted below:

    the secondary's HTTPS listener forwards to its one target group (plan.serving_variant);
    the primary's answers 404 and its weighted `aws_lb_listener_rule.api` forwards
    Route 53 records (validation, simple alias) exist once, with the primary
    names: plan.load_balancer / plan.secondary_load_balancer
"""

from __future__ import annotations

from typing import Any

import pytest

from compiler.spec import ResolvedSpec, load_spec
from compiler.terraform.hcl import Attribute, Block, Expr, Ref, render
from compiler.terraform.plan import plan, secondary_capacity
from compiler.terraform.stack import load_balancer

from .support import EXAMPLES, ROOT, environments

# What the secondary's blocks name, and what the primary's name in their place.
RENAMES = (
    ("aws_subnet.secondary_public[*].id", "local.public_subnet_ids"),
    ("aws_vpc.secondary.id", "local.vpc_id"),
    ("aws_security_group.secondary_alb.", "aws_security_group.alb."),
    ("aws_s3_bucket.logs_secondary.", "aws_s3_bucket.logs."),
    ("aws_s3_bucket_policy.logs_secondary", "aws_s3_bucket_policy.logs"),
    ("aws_acm_certificate.secondary.", "aws_acm_certificate.api."),
    ("aws_acm_certificate_validation.secondary.", "aws_acm_certificate_validation.api."),
    ("aws_lb.secondary.", "aws_lb.main."),
)
# (type, secondary label) -> the primary's label; target groups pair with every primary one.
PAIRS = {
    ("aws_lb", "secondary"): "main",
    ("aws_acm_certificate", "secondary"): "api",
    ("aws_acm_certificate_validation", "secondary"): "api",
    ("aws_lb_listener", "secondary_http"): "http",
    ("aws_lb_listener", "secondary_https"): "https",
}
PRIMARY_ONLY = {"aws_lb_listener_rule", "aws_route53_record"}
NAMED = {"aws_lb", "aws_lb_target_group"}


def _variants(spec: ResolvedSpec) -> list[ResolvedSpec]:
    """The spec, and the same with the settings that shape these blocks turned over."""
    tls = spec.security.tls
    flipped = tls.model_copy(
        update={
            "hosted_zone_id": None if tls.hosted_zone_id else "Z0123456789ABCDEFGHIJ",
            "min_version": "1.2" if tls.min_version == "1.3" else "1.3",
        }
    )
    other = spec.model_copy(
        update={
            "production": not spec.production,
            "security": spec.security.model_copy(update={"tls": flipped}),
        }
    )
    return [spec, other]


def _specs() -> list[ResolvedSpec]:
    found = [env for example in EXAMPLES for env in environments(example)]
    for case in sorted((ROOT / "tests" / "cases").glob("dr-*/spec.yaml")):
        found += load_spec(case).environments
    served = [env for env in found if secondary_capacity(env) is not None]
    return [variant for env in served for variant in _variants(env)]


SPECS = _specs()


def _id(spec: ResolvedSpec) -> str:
    zone = "zone" if spec.security.tls.hosted_zone_id else "nozone"
    return f"{spec.metadata.name}-{spec.environment}-{spec.dr.strategy}-{zone}"


def _secondary(block: Block) -> bool:
    try:
        return block.attribute("provider") == Ref("aws.secondary")
    except KeyError:
        return False


def _regions(spec: ResolvedSpec) -> tuple[dict[tuple[str, str], Block], ...]:
    primary: dict[tuple[str, str], Block] = {}
    secondary: dict[tuple[str, str], Block] = {}
    for block in load_balancer.blocks(plan(spec)):
        if block.type == "resource":
            side = secondary if _secondary(block) else primary
            side[(block.labels[0], block.labels[1])] = block
    return primary, secondary


def _without(block: Block, attributes: set[str], blocks: set[str]) -> Block:
    body = tuple(
        item
        for item in block.body
        if not (isinstance(item, Attribute) and item.name in attributes)
        and not (isinstance(item, Block) and item.type in blocks)
    )
    return Block(block.type, ("x", "x"), body)


def _normal(block: Block, secondary: bool) -> str:
    """The block's text without labels, provider and name; the secondary's references
    renamed to the primary's, and the listener's default action left out (compared
    apart)."""
    kind, label = block.labels
    dropped = {"provider", *({"name"} if kind in NAMED else set())}
    actions = {"default_action"} if label.endswith("https") else set()
    text = render([_without(block, dropped, actions)])
    if secondary:
        for old, new in RENAMES:
            text = text.replace(old, new)
    return text


@pytest.mark.parametrize("spec", SPECS, ids=_id)
def test_the_secondary_load_balancer_is_the_primarys(spec: ResolvedSpec) -> None:
    primary, secondary = _regions(spec)
    assert {t for t, _ in primary} - {t for t, _ in secondary} <= PRIMARY_ONLY
    groups = [key for key in primary if key[0] == "aws_lb_target_group"]
    assert groups
    for (kind, label), block in secondary.items():
        if kind == "aws_lb_target_group":
            twins = [primary[key] for key in groups]
        else:
            twins = [primary[(kind, PAIRS[(kind, label)])]]
        for twin in twins:
            assert _normal(block, secondary=True) == _normal(twin, secondary=False), label
    assert len(secondary) == len(PAIRS) + 1  # every pair, and the one target group


@pytest.mark.parametrize("spec", SPECS, ids=_id)
def test_the_documented_differences(spec: ResolvedSpec) -> None:
    primary, secondary = _regions(spec)
    facts = plan(spec)
    assert primary[("aws_lb", "main")].attribute("name") == facts.load_balancer
    for key in (("aws_lb", "secondary"), ("aws_lb_target_group", "secondary")):
        assert secondary[key].attribute("name") == facts.secondary_load_balancer
    # The secondary serves one variant: its listener forwards, with no rule.
    action = _default_action(secondary[("aws_lb_listener", "secondary_https")])
    assert action == {
        "type": "forward",
        "target_group_arn": Expr("aws_lb_target_group.secondary.arn"),
    }
    assert _default_action(primary[("aws_lb_listener", "https")])["type"] == "fixed-response"
    assert ("aws_lb_listener_rule", "api") in primary
    # Route 53 is global: the one validation record set serves both certificates.
    records = {label for kind, label in primary if kind == "aws_route53_record"}
    zone = spec.security.tls.hosted_zone_id
    assert records == ({"certificate_validation"} if zone else set())
    removed = [b for b in load_balancer.blocks(plan(spec)) if b.type == "removed"]
    assert len(removed) == (1 if zone else 0)


def _default_action(listener: Block) -> dict[str, Any]:
    (action,) = [b for b in listener.body if isinstance(b, Block) and b.type == "default_action"]
    return {item.name: item.value for item in action.body if isinstance(item, Attribute)}


def test_the_specs_cover_both_zones_and_several_strategies() -> None:
    assert {bool(s.security.tls.hosted_zone_id) for s in SPECS} == {True, False}
    assert {s.dr.strategy for s in SPECS} >= {"pilot-light", "warm-standby", "active-active"}
    assert {s.production for s in SPECS} == {True, False}
