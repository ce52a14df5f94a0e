"""SSP_ALB_003: production load balancers cannot be deleted by a stray apply (spec: production)."""

from __future__ import annotations

from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck
from ssp_lib import as_bool, contract, first, guideline, severity


class AlbDeletionProtectionInProd(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Load balancers have deletion protection in production environments",
            id="SSP_ALB_003",
            categories=(CheckCategories.BACKUP_AND_RECOVERY,),
            supported_resources=("aws_lb", "aws_alb"),
            guideline=guideline("production", "set enable_deletion_protection = true"),
        )
        self.severity = severity("MEDIUM")

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        self.evaluated_keys = ["enable_deletion_protection"]
        policy = contract(self.graph, self.entity_path, conf["__address__"])
        # Without the contract we cannot tell staging from production: assume production.
        if policy is not None and not as_bool(policy.get("production", True)):
            return CheckResult.PASSED
        if as_bool(first(conf, "enable_deletion_protection")):
            return CheckResult.PASSED
        return CheckResult.FAILED


check = AlbDeletionProtectionInProd()
