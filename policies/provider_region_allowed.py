"""SSP_REG_001: every AWS provider deploys only to a region the spec allows."""

from __future__ import annotations

from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.provider.base_check import BaseProviderCheck
from ssp_lib import contract, first, guideline, severity, split_regions


class ProviderRegionAllowed(BaseProviderCheck):
    def __init__(self) -> None:
        super().__init__(
            name="AWS providers use a region allowed by the spec and its compliance profile",
            id="SSP_REG_001",
            categories=(CheckCategories.GENERAL_SECURITY,),
            supported_provider=("aws",),
            guideline=guideline(
                "region / dr.secondary_region / security.compliance",
                "set the provider region to one of the allowed regions",
            ),
        )
        self.severity = severity("HIGH")

    def scan_provider_conf(self, conf: dict[str, Any]) -> CheckResult:
        self.evaluated_keys = ["region"]
        policy = contract(self.graph, self.entity_path, conf["__address__"]) or {}
        allowed = split_regions(policy.get("allowed_regions"))
        region = str(first(conf, "region") or "")
        if region and region in allowed:
            return CheckResult.PASSED
        self.details.append(f"provider region {region or '(unset)'} not in {allowed}")
        return CheckResult.FAILED


check = ProviderRegionAllowed()
