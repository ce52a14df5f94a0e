"""The security groups of one region: load balancer, tasks and interface endpoints.

Rules are separate `aws_vpc_security_group_{ingress,egress}_rule` resources, one peer per
rule: the Terraform AWS provider's current best practice (in-line `ingress`/`egress`
blocks struggle with several CIDR blocks and have no rule ids), and a changed rule shows
in the plan as exactly that rule. A group never mixes both forms (the provider warns that
mixing them overwrites rules). Rules of client networks are labelled by the network, so
adding or removing one network never renames the others.
"""

from __future__ import annotations

import re

from compiler.spec import ResolvedSpec
from compiler.terraform.hcl import (
    Attribute,
    Block,
    Call,
    Comment,
    Expr,
    Ref,
    Value,
    data,
    resource,
    skip,
)

from .network_plan import ANYWHERE, RegionNetwork

HTTPS = 443
HTTP = 80
HEALTH_CHECKERS = Ref("data.aws_ip_ranges.route53_healthchecks.cidr_blocks")


def _group(net: RegionNetwork, base: str, description: str) -> Block:
    where = net.where
    return resource(
        "aws_security_group",
        where.prefixed(base),
        where.on(
            {"name": where.aws_name(f"-{base}"), "description": description, "vpc_id": net.vpc_id}
        ),
    )


def _rule(
    net: RegionNetwork,
    direction: str,
    label: str,
    description: str,
    port: int,
    peer: dict[str, Value],
    skips: tuple[Comment, ...] = (),
) -> Block:
    """One TCP rule on one port of the group that `label` starts with."""
    where = net.where
    group = where.prefixed(label.split("_", 1)[0])
    body = {
        "security_group_id": Ref(f"aws_security_group.{group}.id"),
        "description": description,
        "ip_protocol": "tcp",
        "from_port": port,
        "to_port": port,
        **peer,
    }
    return resource(
        f"aws_vpc_security_group_{direction}_rule", where.prefixed(label), [*skips, where.on(body)]
    )


def _network(cidr: str) -> tuple[str, dict[str, Value]]:
    """A client network's label suffix and the rule's peer (IPv4 or IPv6)."""
    peer: dict[str, Value] = {"cidr_ipv6" if ":" in cidr else "cidr_ipv4": cidr}
    return re.sub(r"[^0-9A-Za-z]", "_", cidr), peer


def _clients(spec: ResolvedSpec, net: RegionNetwork) -> list[Block]:
    """HTTPS (and HTTP, only ever redirected) from each allowed client network."""
    found = []
    for cidr in spec.security.network.allowed_cidrs:
        suffix, peer = _network(cidr)
        found.append(
            _rule(net, "ingress", f"alb_https_{suffix}",
                  f"HTTPS from the allowed client network {cidr}", HTTPS, peer)
        )  # fmt: skip
        if net.redirects_http:
            found.append(_http(net, cidr, suffix, peer))
    return found


def _http(net: RegionNetwork, cidr: str, suffix: str, peer: dict[str, Value]) -> Block:
    skips: tuple[Comment, ...] = ()
    if cidr == ANYWHERE:
        reason = (
            "security.network.allowed_cidrs admits 0.0.0.0/0; port 80 only answers with a "
            "301 redirect to HTTPS (aws_lb_listener.http), it never forwards"
        )
        skips = (skip("CKV_AWS_260", reason),)
    description = f"HTTP from {cidr}, answered only with a redirect to HTTPS"
    return _rule(net, "ingress", f"alb_http_{suffix}", description, HTTP, peer, skips)


def _health_checkers(net: RegionNetwork) -> list[Block]:
    """Route 53 health checkers probe from AWS's published ranges, not the clients'."""
    if not net.admits_health_checkers:
        return []
    each: dict[str, Value] = {"cidr_ipv4": Expr("each.value")}
    rule = _rule(net, "ingress", "alb_health_checkers",
                 "HTTPS from Route 53 health checkers", HTTPS, each)  # fmt: skip
    for_each = Attribute("for_each", Call("toset", HEALTH_CHECKERS))
    return [
        data("aws_ip_ranges", "route53_healthchecks", {"services": ["route53_healthchecks"]}),
        rule.with_items(for_each, first=True),
    ]


def _alb(spec: ResolvedSpec, net: RegionNetwork) -> list[Block]:
    redirect = " (and HTTP to redirect)" if net.redirects_http else ""
    vpc: dict[str, Value] = {"cidr_ipv4": net.vpc_cidr}
    return [
        _group(net, "alb", f"Load balancer: HTTPS{redirect} from security.network.allowed_cidrs"),
        *_clients(spec, net),
        *_health_checkers(net),
        _rule(net, "egress", "alb_to_tasks", "To the tasks on the serving port",
              spec.serving.port, vpc),
    ]  # fmt: skip


def _tasks(spec: ResolvedSpec, net: RegionNetwork) -> list[Block]:
    alb: dict[str, Value] = {
        "referenced_security_group_id": Ref(f"aws_security_group.{net.where.prefixed('alb')}.id")
    }
    found = [
        _group(net, "tasks", "Model server tasks: only the load balancer reaches them"),
        _rule(net, "ingress", "tasks_from_alb", "From the load balancer on the serving port",
              spec.serving.port, alb),
        _rule(net, "egress", "tasks_to_endpoints",
              "HTTPS to AWS APIs through the VPC's interface endpoints", HTTPS,
              {"cidr_ipv4": net.vpc_cidr}),
    ]  # fmt: skip
    if net.creates_vpc:
        s3 = Ref(f"aws_vpc_endpoint.{net.where.prefixed('s3')}.prefix_list_id")
        found.append(
            _rule(net, "egress", "tasks_to_s3",
                  "HTTPS to S3 via the gateway endpoint (model artifacts, ECR layers)", HTTPS,
                  {"prefix_list_id": s3})
        )  # fmt: skip
    else:
        # An existing VPC routes to AWS APIs its own way (NAT or endpoints): HTTPS only.
        found.append(
            _rule(net, "egress", "tasks_to_aws_apis",
                  "HTTPS to AWS APIs through the existing VPC's routing", HTTPS,
                  {"cidr_ipv4": ANYWHERE})
        )  # fmt: skip
    return found


def _endpoints(net: RegionNetwork) -> list[Block]:
    if not net.creates_vpc:
        return []
    return [
        _group(net, "endpoints", "VPC interface endpoints: HTTPS from inside the VPC"),
        _rule(net, "ingress", "endpoints_https", "HTTPS from the VPC", HTTPS,
              {"cidr_ipv4": net.vpc_cidr}),
    ]  # fmt: skip


def blocks(spec: ResolvedSpec, net: RegionNetwork) -> list[Block]:
    return [*_alb(spec, net), *_tasks(spec, net), *_endpoints(net)]
