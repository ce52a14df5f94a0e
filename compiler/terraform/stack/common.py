"""Names, ARNs and small building blocks every view of the stack shares.

ARNs are built from literals and locals (not from computed attributes) where AWS lets us
know them in advance: checkov cannot resolve computed attributes, and a policy it cannot
read is a policy it silently does not check.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from compiler.spec import ResolvedSpec
from compiler.terraform.hcl import Block, Comment, Ref, Template, Value, skip

ACCOUNT = "${local.account_id}"
# The account id as a value (not inside a string): a plain str would be escaped as literal.
ACCOUNT_ID = Ref("local.account_id")
PARTITION = "${local.partition}"
CONTAINER = "runtime"
USER = "10001"  # the runtime image's non-root user


def name(spec: ResolvedSpec) -> str:
    return f"{spec.metadata.name}-{spec.environment}"


def state_bucket(spec: ResolvedSpec) -> str:
    """The bootstrap's state bucket: global, so a short hash of the repository makes it unique."""
    digest = hashlib.sha256(f"{spec.metadata.repository}/{spec.metadata.name}".encode()).hexdigest()
    return f"{spec.metadata.name}-tfstate-{digest[:10]}"


def state_key_alias(spec: ResolvedSpec) -> str:
    return f"alias/{spec.metadata.name}-tfstate"


def arn(service: str, resource: str, region: str = "", account: str = ACCOUNT) -> Template:
    return Template(f"arn:{PARTITION}:{service}:{region}:{account}:{resource}")


def log_group_arn(spec: ResolvedSpec, group: str) -> Template:
    return arn("logs", f"log-group:{group}", spec.region)


@dataclass(frozen=True)
class Variant:
    """One ECS service behind the listener: the spec's variants, or the model itself."""

    key: str  # Terraform label and AWS name suffix
    model_version: str
    weight: int


def variants(spec: ResolvedSpec) -> tuple[Variant, ...]:
    if not spec.variants:
        return (Variant("runtime", spec.model.version, 100),)
    return tuple(Variant(v.name, v.model_version, v.weight) for v in spec.variants)


def log_group_prefix(spec: ResolvedSpec) -> str:
    return f"/servespec/{name(spec)}"


def log_group_names(spec: ResolvedSpec) -> dict[str, str]:
    """Every log group of the primary region, by Terraform label: the one place that names
    them (views, the runbook and the DR region read them here)."""
    base = log_group_prefix(spec)
    groups = {"runtime": f"{base}/runtime", "ecs_exec": f"{base}/ecs-exec"}
    if creates_vpc(spec):
        groups["flow_logs"] = f"{base}/vpc-flow-logs"
    if spec.security.waf.enabled:
        # WAF delivers only to log groups whose name starts with aws-waf-logs-.
        groups["waf"] = f"aws-waf-logs-{name(spec)}"
    if spec.security.audit.cloudtrail:
        groups["cloudtrail"] = f"{base}/cloudtrail"
    return groups


def secondary_log_group_names(spec: ResolvedSpec) -> dict[str, str]:
    """The DR region's log groups, by label: the primary's names (another region), the
    WAF's marked `-dr`; the secondary always has its own VPC, and no trail of its own."""
    base = {**log_group_names(spec), "flow_logs": f"{log_group_prefix(spec)}/vpc-flow-logs"}
    base.pop("cloudtrail", None)
    if "waf" in base:
        base["waf"] += "-dr"
    return {f"{label}_secondary": group for label, group in base.items()}


def creates_vpc(spec: ResolvedSpec) -> bool:
    return spec.security.network.vpc_id is None


def log_group(spec: ResolvedSpec, label: str) -> Block:
    return Block(
        "resource",
        ("aws_cloudwatch_log_group", label),
        {
            "name": log_group_names(spec)[label],
            "retention_in_days": spec.observability.log_retention_days,
            "kms_key_id": Ref("aws_kms_key.main.arn"),
        },
    )


def policy(*statements: Mapping[str, Value]) -> dict[str, Value]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def statement(
    sid: str,
    actions: Sequence[str],
    resources: Sequence[Value] | Value,
    condition: Mapping[str, Value] | None = None,
    effect: str = "Allow",
) -> dict[str, Value]:
    body: dict[str, Value] = {
        "Sid": sid,
        "Effect": effect,
        "Action": list(actions),
        "Resource": list(resources) if isinstance(resources, (list, tuple)) else resources,
    }
    if condition:
        body["Condition"] = dict(condition)
    return body


def assume_role(service: str, source_account: bool = True) -> dict[str, Value]:
    """Trust policy for an AWS service, confused-deputy safe (aws:SourceAccount) where the
    service sends that key (EC2 instance profiles do not)."""
    trust: dict[str, Value] = {
        "Sid": "AssumeFromService",
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    if source_account:
        trust["Condition"] = {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID}}
    return policy(trust)


def waiver_skips(spec: ResolvedSpec, address: str) -> list[Comment]:
    """The spec's waivers for one resource address (or `*`), as inline checkov skips."""
    return [
        skip(w.check, f"{w.reason} (owner {w.owner}, expires {w.expires.isoformat()})")
        for w in spec.security.waivers
        if w.resource in (address, "*")
    ]
