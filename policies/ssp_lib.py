"""Shared lookups for servespec's checkov policies.

checkov runs Python checks one resource at a time, but hands every check the whole
terraform graph (``self.graph``). Policies that need a threshold from the spec, or the
existence of another resource, look it up in the same root module (same directory) as
the resource under check. checkov imports this file as a "check" too; it registers none.
"""

from __future__ import annotations

import json
import os
from typing import Any

from checkov.common.bridgecrew.severities import get_severity
from checkov.common.models.enums import CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck

CONTRACT_ADDRESS = "terraform_data.servespec_policy"
CONTRACT_KEYS = (
    "log_retention_days",
    "backup_retention_days",
    "allowed_regions",
    "dr_replication",
    "environment",
    "production",
    "tls_min_version",
    "compliance",
)


_NODES: dict[int, tuple[Any, list[dict[str, Any]]]] = {}


def _nodes(graph: Any) -> list[dict[str, Any]]:
    """The graph's resource attributes, listed once per graph (checks run per resource)."""
    cached = _NODES.get(id(graph))
    if cached is None or cached[0] is not graph:
        # rustworkx yields (index, attributes) tuples; keep only the attributes.
        nodes = [node[1] if isinstance(node, tuple) else node for node in graph.nodes()]
        _NODES.clear()
        cached = _NODES[id(graph)] = (graph, nodes)
    return cached[1]


def module_dir(graph: Any, entity_path: str, address: str) -> str | None:
    """Absolute directory of the entity's own file (entity_path is 'file:type:name')."""
    scanned_file = entity_path.split(":", 1)[0]
    for attrs in _nodes(graph):
        path = attrs.get("file_path_", "")
        if attrs.get("__address__") == address and path.endswith(scanned_file):
            return os.path.dirname(path)
    return None


def siblings(
    graph: Any, entity_path: str, address: str, resource_type: str
) -> list[dict[str, Any]]:
    """Resources of one type declared in the same root module as the entity."""
    directory = module_dir(graph, entity_path, address)
    return [
        attrs
        for attrs in _nodes(graph)
        if attrs.get("block_type_") == "resource"
        and attrs.get("resource_type") == resource_type
        and os.path.dirname(attrs.get("file_path_", "")) == directory
    ]


def contract(graph: Any, entity_path: str, address: str) -> dict[str, Any] | None:
    """The emitter's ``terraform_data.servespec_policy`` input in this module, if any."""
    for attrs in siblings(graph, entity_path, address, "terraform_data"):
        if attrs.get("__address__") == CONTRACT_ADDRESS and isinstance(attrs.get("input"), dict):
            return dict(attrs["input"])
    return None


def as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def as_bool(value: Any) -> bool:
    # checkov renders HCL booleans as True or as the strings "true"/"True".
    return value is True or str(value).lower() == "true"


def first(conf: dict[str, Any], key: str) -> Any:
    """checkov wraps every attribute value in a one-element list."""
    value = conf.get(key)
    return value[0] if isinstance(value, list) and value else value


def parse_json(value: Any) -> Any:
    """A jsonencode() of literals arrives as data; a heredoc or string needs parsing."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def statements(policy: Any) -> list[dict[str, Any]] | None:
    """IAM policy statements, or None when the document is not statically known."""
    document = parse_json(policy)
    if not isinstance(document, dict):
        return None
    found = document.get("Statement")
    found = [found] if isinstance(found, dict) else found
    if not isinstance(found, list) or not all(isinstance(s, dict) for s in found):
        return None
    return found


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def container_definitions(conf: dict[str, Any]) -> list[dict[str, Any]] | None:
    """ECS container definitions, or None when they are not statically known."""
    found = parse_json(first(conf, "container_definitions"))
    if isinstance(found, dict):
        found = [found]
    if not isinstance(found, list) or not found or not all(isinstance(c, dict) for c in found):
        return None
    return found


def severity(level: str) -> Any:
    """checkov's Severity object for 'LOW' | 'MEDIUM' | 'HIGH' | 'CRITICAL'."""
    return get_severity(level)


def guideline(field: str, fix: str) -> str:
    # The gate and SARIF show this text; it names the spec field that governs the check.
    return f"spec field: {field} | fix: {fix}"


def is_aws_managed_key(key: Any) -> bool:
    """An empty key id or an alias/aws/* alias means AWS owns the key, not the spec's CMK."""
    text = str(key or "").strip()
    return not text or "alias/aws/" in text


KEY_TYPES = ("aws_kms_key", "aws_kms_replica_key", "aws_kms_alias")


def dangling_key(graph: Any, entity_path: str, address: str, key: Any) -> bool:
    """A reference (aws_kms_key.<name>.arn) to a key this module does not declare.

    checkov leaves references to computed attributes as literal text, so a deleted key
    still looks like "some key" to an attribute check; only the graph shows it is gone.
    """
    text = str(key or "").strip().removeprefix("${")
    kind, _, rest = text.partition(".")
    if kind not in KEY_TYPES or not rest:
        return False
    wanted = f"{kind}.{rest.split('.')[0]}"
    declared = siblings(graph, entity_path, address, kind)
    return not any(node.get("__address__") == wanted for node in declared)


def cmk_problem(check: BaseResourceCheck, address: str, key: Any) -> str | None:
    """Why ``key`` is not the spec's customer-managed key, or None when it is one."""
    if is_aws_managed_key(key):
        return "no customer-managed key (AWS-managed or default encryption)"
    if dangling_key(check.graph, check.entity_path, address, key):
        return f"{key} names a KMS key this module does not declare"
    return None


class CmkAttributeCheck(BaseResourceCheck):
    """A store whose one key attribute must name the spec's CMK, not an AWS-managed key."""

    key_attribute = "kms_key_id"

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        self.evaluated_keys = [self.key_attribute]
        problem = cmk_problem(self, conf["__address__"], first(conf, self.key_attribute))
        if problem:
            self.details.append(problem)
            return CheckResult.FAILED
        return CheckResult.PASSED


IAM_POLICY_RESOURCES = (
    "aws_iam_policy",
    "aws_iam_role_policy",
    "aws_iam_user_policy",
    "aws_iam_group_policy",
)


def allow_statements(conf: dict[str, Any]) -> list[dict[str, Any]] | None:
    """Allow statements of an IAM policy resource, or None when not statically known."""
    found = statements(first(conf, "policy"))
    if found is None:
        return None
    return [s for s in found if s.get("Effect", "Allow") == "Allow"]


def split_regions(value: Any) -> list[str]:
    """allowed_regions is a comma-separated string (a list is accepted too)."""
    items = value if isinstance(value, list) else str(value or "").split(",")
    return [str(item).strip() for item in items if str(item).strip()]
