"""The secondary region's network, WAF and flow logs are the primary's, modulo region.

Both regions' network comes from one builder (region_network.blocks with a RegionNetwork),
and the WAF from waf.region_blocks. Here each secondary block is rendered, normalised
(region, provider, labels, names, CIDR, key) and compared with the primary's: every
difference must be one of the facts network_plan.RegionNetwork names. A hand-built copy
(the old dr_network.py wrote WAF logging without redaction and security-group rules in
another form) shows up as an unexplained difference.
"""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from compiler.spec import ResolvedSpec
from compiler.terraform.hcl import Block, render
from compiler.terraform.plan import plan, secondary_capacity
from compiler.terraform.stack import FILES, dr_plan, network_plan, security_groups, waf
from compiler.terraform.stack.region import Region

from .support import EXAMPLES, environments

# Blocks one region has and the other not, each with the fact that says why.
PRIMARY_ONLY = {
    # ec2_agent: the secondary runs Fargate.
    r"resource\.aws_vpc_endpoint\.ecs(_agent|_telemetry)?",
}
SECONDARY_ONLY = {
    # admits_health_checkers: Route 53 probes the secondary (the primary: an alarm).
    r"data\.aws_ip_ranges\.route53_healthchecks",
    r"resource\.aws_vpc_security_group_ingress_rule\.alb_health_checkers",
}
# Blocks in both whose text differs, and the attribute lines that may differ.
MAY_DIFFER = {
    # RegionNetwork.az_count, .public_cidr / .private_cidr
    "resource.aws_subnet.public": ("count", "cidr_block"),
    "resource.aws_subnet.private": ("count", "cidr_block"),
    # RegionNetwork.az_count, .zones_hint
    "data.aws_availability_zones.main": ("condition", "error_message"),
    "resource.aws_route_table_association.public": ("count",),
    "resource.aws_route_table_association.private": ("count",),
}
NETWORK = re.compile(
    r"aws_(vpc|subnet|route|route_table|route_table_association|internet_gateway|"
    r"default_security_group|vpc_endpoint|flow_log|security_group|vpc_security_group_\w+|"
    r"wafv2_\w+|availability_zones|ip_ranges)$"
)


def _normal(text: str, spec: ResolvedSpec) -> str:
    """The block as if it were the primary's: same region, provider, labels, names, key."""
    assert spec.dr.secondary_region is not None
    text = re.sub(r"^\s*provider\s*=\s*aws\.secondary\n", "", text, flags=re.M)
    text = text.replace(spec.dr.secondary_region, spec.region)
    text = text.replace(dr_plan.secondary_vpc_cidr(spec), spec.security.network.vpc_cidr)
    text = text.replace("aws_kms_replica_key.secondary", "aws_kms_key.main")
    text = re.sub(r"\bsecondary_(\w)", r"\1", text)
    text = re.sub(r"(\w)_secondary\b", r"\1", text)
    text = re.sub(
        r'"secondary"|\.secondary(\.|$)', lambda m: m[0].replace("secondary", "main"), text
    )
    text = re.sub(r"-dr\b", "", text).replace('"${local.name}"', "local.name")
    return text


def _by_address(blocks: list[Block], spec: ResolvedSpec, secondary: bool) -> dict[str, str]:
    found = {}
    for block in blocks:
        if block.type not in ("resource", "data") or len(block.labels) != 2:
            continue
        kind, label = block.labels
        is_log_group = kind == "aws_cloudwatch_log_group" and label.startswith(("flow", "waf"))
        is_flow_role = kind.startswith("aws_iam_role") and label.startswith("flow_logs")
        if not (NETWORK.match(kind) or is_log_group or is_flow_role):
            continue
        text = render([block])
        address = f"{block.type}.{kind}.{label}"
        if secondary:
            text, address = _normal(text, spec), _normal(address, spec)
        found[address] = re.sub(r"[ \t]+", " ", text)
    return found


def _secondary(block: Block) -> bool:
    """In the secondary region: its provider, or (IAM, global) a secondary label."""
    label = block.labels[-1]
    on = re.search(r"^\s*provider\s*=\s*aws\.secondary$", render([block]), flags=re.M)
    return on is not None or label.startswith("secondary") or label.endswith("_secondary")


def _regions(spec: ResolvedSpec) -> tuple[dict[str, str], dict[str, str]]:
    """(primary, secondary): the network and WAF blocks the whole stack emits, by region."""
    blocks = [block for _, view in FILES for block in view(plan(spec)) if block.labels]
    checkers = [b for b in blocks if b.labels == ("aws_ip_ranges", "route53_healthchecks")]
    primary = [b for b in blocks if not _secondary(b) and b not in checkers]
    secondary = [*checkers, *(b for b in blocks if _secondary(b))]
    return _by_address(primary, spec, False), _by_address(secondary, spec, True)


def _matches(patterns: set[str], address: str) -> bool:
    return any(re.fullmatch(pattern, address) for pattern in patterns)


def _lines(text: str, names: tuple[str, ...]) -> list[str]:
    """The block's non-blank lines, without the attributes that may differ (a block whose
    only attribute is the secondary's provider keeps the blank line after it)."""
    lines = (line for line in text.splitlines() if line.strip())
    return [line for line in lines if line.strip().split(" ")[0] not in names]


def _differences(spec: ResolvedSpec) -> list[str]:
    primary, secondary = _regions(spec)
    found = []
    for address in sorted(set(primary) | set(secondary)):
        if address not in secondary:
            if not _matches(PRIMARY_ONLY, address):
                found.append(f"only in the primary: {address}")
        elif address not in primary:
            if not _matches(SECONDARY_ONLY, address):
                found.append(f"only in the secondary: {address}")
        else:
            names = MAY_DIFFER.get(address, ())
            if _lines(primary[address], names) != _lines(secondary[address], names):
                found.append(f"differs: {address}\n{primary[address]}\n{secondary[address]}")
    return found


CASES = [
    spec
    for example in EXAMPLES
    for spec in environments(example)
    if secondary_capacity(spec) is not None
]


@pytest.mark.parametrize("spec", CASES, ids=lambda s: f"{s.metadata.name}-{s.environment}")
def test_the_secondary_network_is_the_primarys_modulo_region(spec: ResolvedSpec) -> None:
    _, secondary = _regions(spec)
    assert len(secondary) > 30  # it compared the network, flow logs and WAF
    assert _differences(spec) == []


def test_the_lists_name_only_real_differences() -> None:
    """An exception no case needs any more must leave the lists (they can only shrink)."""
    seen: set[str] = set()
    for spec in CASES:
        primary, secondary = _regions(spec)
        seen |= {f"p:{a}" for a in set(primary) - set(secondary)}
        seen |= {f"s:{a}" for a in set(secondary) - set(primary)}
    unused = [p for p in PRIMARY_ONLY if not any(re.fullmatch(f"p:{p}", a) for a in seen)]
    unused += [p for p in SECONDARY_ONLY if not any(re.fullmatch(f"s:{p}", a) for a in seen)]
    assert unused == []


def test_a_hand_edited_secondary_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """WAF logging without the redaction (the drift the old copy had), and a network fact
    the list does not explain, both fail the comparison."""
    spec = CASES[0]
    logging = waf._logging

    def unredacted(where: Region, acl: str, logs: str) -> Block:
        block = logging(where, acl, logs)
        if not where.secondary:
            return block
        kept = [item for item in block.body if getattr(item, "type", "") != "redacted_fields"]
        return Block(block.type, block.labels, kept)

    monkeypatch.setattr(waf, "_logging", unredacted)
    assert [d.split("\n")[0] for d in _differences(spec)] == [
        "differs: resource.aws_wafv2_web_acl_logging_configuration.main"
    ]
    monkeypatch.undo()
    secondary = network_plan.secondary
    monkeypatch.setattr(network_plan, "secondary", lambda s: replace(secondary(s), ec2_agent=True))
    assert "only in the secondary: resource.aws_vpc_endpoint.ecs" in _differences(spec)


def test_an_existing_primary_vpc_still_gets_a_secondary_vpc_of_its_own() -> None:
    spec = CASES[0]
    given = spec.security.network.model_copy(
        update={
            "vpc_id": "vpc-0123456789abcdef0",
            "private_subnet_ids": ["subnet-0123456789abcdef0"],
            "public_subnet_ids": ["subnet-0123456789abcdef1"],
        }
    )
    spec = spec.model_copy(update={"security": spec.security.model_copy(update={"network": given})})
    primary, secondary = _regions(spec)
    assert "data.aws_vpc.main" in primary and "resource.aws_vpc.main" not in primary
    assert "resource.aws_vpc_endpoint.s3" not in primary
    assert "resource.aws_vpc_security_group_egress_rule.tasks_to_aws_apis" in primary
    net = network_plan.secondary(spec)
    assert net.creates_vpc and net.cidr == dr_plan.secondary_vpc_cidr(spec)
    for address in (
        "resource.aws_vpc.main",
        "resource.aws_vpc_endpoint.s3",
        "resource.aws_flow_log.main",
        "resource.aws_security_group.endpoints",
    ):
        assert address in secondary, address  # normalised: the secondary's own
    # The groups both regions have are still the same builder's.
    for address in (
        "resource.aws_security_group.tasks",
        "resource.aws_vpc_security_group_ingress_rule.tasks_from_alb",
    ):
        assert primary[address].replace("local.vpc_id", "aws_vpc.main.id") == secondary[address]


def test_one_rule_per_client_network_labelled_by_the_network() -> None:
    """Adding a client network adds its rules and renames none; IPv6 gets cidr_ipv6."""
    spec = CASES[0]
    given = spec.security.network.model_copy(
        update={"allowed_cidrs": ["203.0.113.0/24", "2001:db8::/32"]}
    )
    spec = spec.model_copy(update={"security": spec.security.model_copy(update={"network": given})})
    rules = {
        b.labels[1]: b
        for b in security_groups.blocks(spec, network_plan.primary(spec))
        if b.labels[0] == "aws_vpc_security_group_ingress_rule"
    }
    assert sorted(label for label in rules if label.startswith("alb_")) == [
        "alb_http_2001_db8___32",
        "alb_http_203_0_113_0_24",
        "alb_https_2001_db8___32",
        "alb_https_203_0_113_0_24",
    ]
    assert rules["alb_https_2001_db8___32"].attribute("cidr_ipv6") == "2001:db8::/32"
    assert rules["alb_https_203_0_113_0_24"].attribute("cidr_ipv4") == "203.0.113.0/24"
    # No 0.0.0.0/0: no port-80 waiver on any rule.
    assert "CKV_AWS_260" not in render(list(rules.values()))
