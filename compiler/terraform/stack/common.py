"""Names, ARNs and small building blocks every view of the stack shares.

ARNs are built from literals and locals (not from computed attributes) where AWS lets us
know them in advance: checkov cannot resolve computed attributes, and a policy it cannot
read is a policy it silently does not check.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

from compiler.spec import ResolvedSpec
from compiler.terraform.hcl import Block, Comment, Ref, Template, Value, skip
from compiler.terraform.plan import (  # names are the plan's; re-exported for the views
    Variant,
    creates_vpc,
    log_group_names,
    log_group_prefix,
    model_prefix,
    name,
    secondary_log_group_names,
    variants,
)

__all__ = [
    "Variant",
    "creates_vpc",
    "log_group_names",
    "log_group_prefix",
    "model_prefix",
    "name",
    "secondary_log_group_names",
    "variants",
]

ACCOUNT = "${local.account_id}"
# The account id as a value (not inside a string): a plain str would be escaped as literal.
ACCOUNT_ID = Ref("local.account_id")
PARTITION = "${local.partition}"
MODELS_BUCKET = "${local.name}-models-${local.account_id}"
LOGS_BUCKET = "${local.name}-logs-${local.account_id}"
AUDIT_BUCKET = "${local.name}-audit-${local.account_id}"
CONTAINER = "runtime"
# The API-key secret's name, in every region (the DR replica keeps it): the runtime reads it
# by name, and re-reads it every API_KEYS_RELOAD_S so added and revoked keys take effect.
API_KEYS_SECRET = "${local.name}/api-keys"
API_KEYS_RELOAD_S = 30
USER = "10001"  # the runtime image's non-root user


def artifact_uri(spec: ResolvedSpec, version: str) -> Template:
    return Template(f"s3://{MODELS_BUCKET}/{model_prefix(spec)}{version}/")


def has_audit_bucket(spec: ResolvedSpec) -> bool:
    return spec.security.audit.cloudtrail or spec.security.audit.config_rules


def audit_lock_mode(spec: ResolvedSpec) -> str | None:
    """S3 Object Lock mode of the audit buckets, or None when no profile asks for it."""
    if "hipaa" not in spec.security.compliance:
        return None
    return "COMPLIANCE" if spec.production else "GOVERNANCE"


def state_bucket(spec: ResolvedSpec) -> str:
    """The state bucket of the environment's account (each account's bootstrap makes one):
    global, so a short hash of the repository, deployment and account makes it unique."""
    account = f"/{spec.account.id}" if spec.account else ""
    source = f"{spec.metadata.repository}/{spec.metadata.name}{account}"
    digest = hashlib.sha256(source.encode()).hexdigest()
    return f"{spec.metadata.name}-tfstate-{digest[:10]}"


def state_key_alias(spec: ResolvedSpec) -> str:
    return f"alias/{spec.metadata.name}-tfstate"


def arn(service: str, resource: str, region: str = "", account: str = ACCOUNT) -> Template:
    return Template(f"arn:{PARTITION}:{service}:{region}:{account}:{resource}")


def log_group_arn(spec: ResolvedSpec, group: str) -> Template:
    return arn("logs", f"log-group:{group}", spec.region)


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
