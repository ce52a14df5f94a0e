"""SSP_IAM_001: IAM policies never allow every action, of AWS or of a whole service."""

from __future__ import annotations

from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck
from ssp_lib import IAM_POLICY_RESOURCES, allow_statements, as_list, guideline, severity


def _is_wildcard(action: Any) -> bool:
    text = str(action)
    return text == "*" or text.endswith(":*")


class IamPolicyNoWildcardActions(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="IAM policies allow no '*' or 'service:*' actions",
            id="SSP_IAM_001",
            categories=(CheckCategories.IAM,),
            supported_resources=IAM_POLICY_RESOURCES,
            guideline=guideline("security (least privilege)", "list the exact actions needed"),
        )
        self.severity = severity("CRITICAL")

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        self.evaluated_keys = ["policy"]
        found = allow_statements(conf)
        # A policy checkov cannot resolve cannot be proven safe.
        if found is None:
            return CheckResult.FAILED
        for statement in found:
            if "NotAction" in statement or any(map(_is_wildcard, as_list(statement.get("Action")))):
                return CheckResult.FAILED
        return CheckResult.PASSED


check = IamPolicyNoWildcardActions()
