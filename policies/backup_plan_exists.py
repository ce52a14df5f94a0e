"""SSP_BAK_002: a module that serves the spec also backs it up (plan plus selection)."""

from __future__ import annotations

from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck
from ssp_lib import CONTRACT_ADDRESS, guideline, severity, siblings


class BackupPlanExists(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="The root module has an AWS Backup plan and a selection",
            id="SSP_BAK_002",
            categories=(CheckCategories.BACKUP_AND_RECOVERY,),
            # Anchored on the contract resource: one result per servespec root module.
            supported_resources=("terraform_data",),
            guideline=guideline(
                "backups.enabled",
                "set backups.enabled: true in the spec, or waive SSP_BAK_002 in security.waivers",
            ),
        )
        self.severity = severity("HIGH")

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        if conf.get("__address__") != CONTRACT_ADDRESS:
            return CheckResult.UNKNOWN
        address = conf["__address__"]
        for kind in ("aws_backup_plan", "aws_backup_selection"):
            if not siblings(self.graph, self.entity_path, address, kind):
                self.details.append(f"no {kind} in this module")
                return CheckResult.FAILED
        return CheckResult.PASSED


check = BackupPlanExists()
