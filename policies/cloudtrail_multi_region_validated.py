"""SSP_CT_001: the audit trail covers every region and its log files are tamper-evident."""

from __future__ import annotations

from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck
from ssp_lib import as_bool, first, guideline, severity


class CloudTrailMultiRegionValidated(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="CloudTrail trails are multi-region with log file validation",
            id="SSP_CT_001",
            categories=(CheckCategories.LOGGING,),
            supported_resources=("aws_cloudtrail",),
            guideline=guideline(
                "security.audit.cloudtrail",
                "set is_multi_region_trail = true and enable_log_file_validation = true",
            ),
        )
        self.severity = severity("HIGH")

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        self.evaluated_keys = ["is_multi_region_trail", "enable_log_file_validation"]
        multi_region = as_bool(first(conf, "is_multi_region_trail"))
        if multi_region and as_bool(first(conf, "enable_log_file_validation")):
            return CheckResult.PASSED
        return CheckResult.FAILED


check = CloudTrailMultiRegionValidated()
