"""SSP_ENC_004: ECR repositories encrypt images with a customer-managed KMS key."""

from __future__ import annotations

from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck
from ssp_lib import cmk_problem, guideline, severity


class EcrRepositoryEncryptedWithCmk(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="ECR repositories encrypt images with a customer-managed KMS key",
            id="SSP_ENC_004",
            categories=(CheckCategories.ENCRYPTION,),
            supported_resources=("aws_ecr_repository",),
            guideline=guideline(
                "security.kms",
                'encryption_configuration { encryption_type = "KMS", kms_key = CMK ARN }',
            ),
        )
        self.severity = severity("MEDIUM")

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        self.evaluated_keys = ["encryption_configuration"]
        blocks = conf.get("encryption_configuration") or []
        # Without the block ECR defaults to AES256: no key the spec controls.
        if not blocks:
            return CheckResult.FAILED
        block = blocks[0]
        kind = (block.get("encryption_type") or [""])[0]
        problem = cmk_problem(self, conf["__address__"], (block.get("kms_key") or [""])[0])
        if kind != "KMS" or problem:
            self.details.append(problem or f"encryption_type = {kind}")
            return CheckResult.FAILED
        return CheckResult.PASSED


check = EcrRepositoryEncryptedWithCmk()
