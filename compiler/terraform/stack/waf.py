"""waf.tf: a WAFv2 web ACL on the load balancer: AWS managed rule groups and a per-IP rate
limit from the spec, logging to a KMS-encrypted `aws-waf-logs-` log group."""

from __future__ import annotations

from compiler.spec import ResolvedSpec
from compiler.terraform.hcl import Block, Ref, Value, resource
from compiler.terraform.plan import Plan

from . import common, dr_plan, region
from .region import Region

WAF_MIN_LIMIT = 10
# (rule name, AWS managed rule group), in priority order.
MANAGED_GROUPS = (
    ("aws-ip-reputation", "AWSManagedRulesAmazonIpReputationList"),
    ("aws-anonymous-ip", "AWSManagedRulesAnonymousIpList"),
    ("aws-common", "AWSManagedRulesCommonRuleSet"),
    ("aws-known-bad-inputs", "AWSManagedRulesKnownBadInputsRuleSet"),
)


def enabled(spec: ResolvedSpec) -> bool:
    return spec.security.waf.enabled


def _visibility(where: Region, metric: str) -> Block:
    return Block(
        "visibility_config",
        (),
        {
            "cloudwatch_metrics_enabled": True,
            "metric_name": where.aws_name(f"-{metric}"),
            "sampled_requests_enabled": True,
        },
    )


# The common rule set blocks request bodies over 8 KB (SizeRestrictions_BODY): long prompts
# are the product, so that rule only counts; the runtime enforces serving.max_request_bytes.
# The anonymous-IP group blocks cloud hosting providers (HostingProviderIPList): the API's
# clients are servers, mostly in clouds, so that rule only counts; VPNs, proxies and Tor
# (AnonymousIPList) stay blocked.
COUNT_ONLY = {
    "AWSManagedRulesCommonRuleSet": ("SizeRestrictions_BODY",),
    "AWSManagedRulesAnonymousIpList": ("HostingProviderIPList",),
}


def managed_group_statement(group: str) -> Block:
    """The statement of an AWS managed rule group, with our count-only overrides."""
    overrides = [
        Block("rule_action_override", (), [{"name": rule},
                                           Block("action_to_use", (), [Block("count")])])
        for rule in COUNT_ONLY.get(group, ())
    ]  # fmt: skip
    body: list[Block | dict[str, Value]] = [{"name": group, "vendor_name": "AWS"}, *overrides]
    return Block("statement", (), [Block("managed_rule_group_statement", (), body)])


def _managed_rule(where: Region, priority: int, rule: str, group: str) -> Block:
    return Block(
        "rule",
        (),
        [
            {"name": rule, "priority": priority},
            # Managed groups keep their own block actions: `none` means "do not override".
            Block("override_action", (), [Block("none")]),
            managed_group_statement(group),
            _visibility(where, rule),
        ],
    )


def _rate_rule(where: Region, spec: ResolvedSpec, priority: int) -> Block:
    limit: dict[str, Value] = {
        "limit": spec.security.waf.rate_limit_per_5min,
        "aggregate_key_type": "IP",
        "evaluation_window_sec": 300,
    }
    return Block(
        "rule",
        (),
        [
            {"name": "rate-limit-per-ip", "priority": priority},
            Block("action", (), [Block("block")]),
            Block("statement", (), [Block("rate_based_statement", (), limit)]),
            _visibility(where, "rate-limit-per-ip"),
        ],
    )


def _key_rate_rule(where: Region, spec: ResolvedSpec, priority: int) -> Block:
    """serving.rate_limit_per_key_rpm across every task: WAF counts per API key (the
    Authorization header) over one minute, where each task's own limiter sees only its
    share. Requests without the header are not counted here (the per-IP rule still is)."""
    header = Block(
        "header",
        (),
        [
            {"name": "authorization"},
            Block("text_transformation", (), {"priority": 0, "type": "NONE"}),
        ],
    )
    limit: list[Block | dict[str, Value]] = [
        {
            # WAF's smallest limit is 10 requests per window.
            "limit": max(WAF_MIN_LIMIT, spec.serving.rate_limit_per_key_rpm),
            "aggregate_key_type": "CUSTOM_KEYS",
            "evaluation_window_sec": 60,
        },
        Block("custom_key", (), [header]),
    ]
    return Block(
        "rule",
        (),
        [
            {"name": "rate-limit-per-key", "priority": priority},
            Block("action", (), [Block("block")]),
            Block("statement", (), [Block("rate_based_statement", (), limit)]),
            _visibility(where, "rate-limit-per-key"),
        ],
    )


def blocks(p: Plan) -> list[Block]:
    """The primary's web ACL, and the same one in the secondary region when it serves."""
    found = region_blocks(p, region.primary(p.region))
    if p.secondary_region is not None and p.secondary_capacity is not None:
        found += region_blocks(p, region.secondary(p.secondary_region))
    return found


def region_blocks(p: Plan, where: Region) -> list[Block]:
    """The web ACL of one region's load balancer: the same rules and logging in both."""
    spec = p.spec
    if not enabled(spec):
        return []
    rules = [_rate_rule(where, spec, 0)]
    if p.api_keys:
        rules.append(_key_rate_rule(where, spec, len(rules)))
    first = len(rules)
    rules += [
        _managed_rule(where, first + i, rule, group)
        for i, (rule, group) in enumerate(MANAGED_GROUPS)
    ]
    acl = f"aws_wafv2_web_acl.{where.main}"
    logs = where.label("waf")
    return [
        resource(
            "aws_wafv2_web_acl",
            where.main,
            [
                where.on(
                    {
                        "name": where.aws_name(),
                        "description": "servespec API protection (security.waf)",
                        "scope": "REGIONAL",
                    }
                ),
                Block("default_action", (), [Block("allow")]),
                *rules,
                _visibility(where, "web-acl"),
            ],
        ),
        resource(
            "aws_wafv2_web_acl_association",
            where.main,
            where.on(
                {
                    "resource_arn": Ref(f"aws_lb.{where.main}.arn"),
                    "web_acl_arn": Ref(f"{acl}.arn"),
                }
            ),
        ),
        _log_group(spec, where),
        _logging(where, acl, logs),
    ]


def _logging(where: Region, acl: str, logs: str) -> Block:
    return resource(
        "aws_wafv2_web_acl_logging_configuration",
        where.main,
        [
            where.on(
                {
                    "resource_arn": Ref(f"{acl}.arn"),
                    "log_destination_configs": [Ref(f"aws_cloudwatch_log_group.{logs}.arn")],
                }
            ),
            # API keys travel in this header; they must never reach the logs.
            Block(
                "redacted_fields",
                (),
                [Block("single_header", (), {"name": "authorization"})],
            ),
        ],
    )


def _log_group(spec: ResolvedSpec, where: Region) -> Block:
    # WAF delivers only to log groups whose name starts with aws-waf-logs- (names: common).
    if where.secondary:
        return dr_plan.log_group(spec, "waf_secondary")
    return common.log_group(spec, "waf")
