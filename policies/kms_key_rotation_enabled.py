"""SSP_KMS_001: every customer-managed KMS key rotates its key material yearly."""

from __future__ import annotations

from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck
from ssp_lib import as_bool, first, guideline, severity


class KmsKeyRotationEnabled(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="KMS customer-managed keys have automatic rotation enabled",
            id="SSP_KMS_001",
            categories=(CheckCategories.ENCRYPTION,),
            supported_resources=("aws_kms_key",),
            guideline=guideline(
                "security.kms.rotation",
                "set security.kms.rotation: true in the spec, "
                "or waive SSP_KMS_001 in security.waivers",
            ),
        )
        self.severity = severity("HIGH")

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        self.evaluated_keys = ["enable_key_rotation"]
        if as_bool(first(conf, "enable_key_rotation")):
            return CheckResult.PASSED
        return CheckResult.FAILED


check = KmsKeyRotationEnabled()
