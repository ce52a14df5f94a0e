"""SSP_REG_002: the allowed regions honour the compliance profile (gdpr: EU only)."""

from __future__ import annotations

from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck
from ssp_lib import CONTRACT_ADDRESS, guideline, severity, split_regions
from ssp_regions import PROFILE_REGIONS


class AllowedRegionsMatchCompliance(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Allowed regions satisfy the spec's compliance profiles",
            id="SSP_REG_002",
            categories=(CheckCategories.GENERAL_SECURITY,),
            supported_resources=("terraform_data",),
            guideline=guideline(
                "security.compliance",
                "with gdpr, region and dr.secondary_region are EU regions",
            ),
        )
        self.severity = severity("HIGH")

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        if conf.get("__address__") != CONTRACT_ADDRESS:
            return CheckResult.UNKNOWN
        self.evaluated_keys = ["input/[0]/allowed_regions", "input/[0]/compliance"]
        policy = (conf.get("input") or [{}])[0]
        regions = split_regions(policy.get("allowed_regions"))
        for profile in split_regions(policy.get("compliance")):
            allowed = PROFILE_REGIONS.get(profile)
            outside = [r for r in regions if allowed is not None and r not in allowed]
            if outside:
                self.details.append(f"{profile} forbids {outside}")
                return CheckResult.FAILED
        return CheckResult.PASSED


check = AllowedRegionsMatchCompliance()
