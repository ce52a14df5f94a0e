"""SSP_CTX_001: the emitter's policy contract is complete, so threshold checks can run."""

from __future__ import annotations

from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck
from ssp_lib import CONTRACT_ADDRESS, CONTRACT_KEYS, as_int, guideline, severity, split_regions


def _problems(policy: dict[str, Any]) -> list[str]:
    found = [f"missing {key}" for key in CONTRACT_KEYS if key not in policy]
    for key in ("log_retention_days", "backup_retention_days"):
        if key in policy and (as_int(policy[key]) is None or as_int(policy[key]) < 1):
            found.append(f"{key} is not a positive integer")
    if "allowed_regions" in policy and not split_regions(policy["allowed_regions"]):
        found.append("allowed_regions is empty")
    if "tls_min_version" in policy and str(policy["tls_min_version"]) not in ("1.2", "1.3"):
        found.append("tls_min_version is not 1.2 or 1.3")
    for key in ("dr_replication", "production"):
        if key in policy and str(policy[key]).lower() not in ("true", "false"):
            found.append(f"{key} is not a boolean")
    return found


class PolicyContractComplete(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="terraform_data.servespec_policy carries every policy threshold",
            id="SSP_CTX_001",
            categories=(CheckCategories.GENERAL_SECURITY,),
            supported_resources=("terraform_data",),
            guideline=guideline(
                "(compiler)", "regenerate with servespec compile; see policies/README.md"
            ),
        )
        self.severity = severity("HIGH")

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        if conf.get("__address__") != CONTRACT_ADDRESS:
            return CheckResult.UNKNOWN
        self.evaluated_keys = ["input"]
        policy = (conf.get("input") or [None])[0]
        problems = _problems(policy) if isinstance(policy, dict) else ["input is not an object"]
        self.details.extend(problems)
        return CheckResult.FAILED if problems else CheckResult.PASSED


check = PolicyContractComplete()
