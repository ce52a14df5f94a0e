"""SSP_BAK_001: every backup rule keeps recovery points as long as the spec asks."""

from __future__ import annotations

from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck
from ssp_lib import as_int, contract, first, guideline, severity


def _kept_days(rule: dict[str, Any]) -> int | None:
    lifecycle = (rule.get("lifecycle") or [{}])[0]
    # No delete_after means recovery points never expire.
    return as_int(first(lifecycle, "delete_after") or 0)


class BackupRetentionMeetsSpec(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Backup plan rules retain recovery points for the spec's retention_days",
            id="SSP_BAK_001",
            categories=(CheckCategories.BACKUP_AND_RECOVERY,),
            supported_resources=("aws_backup_plan",),
            guideline=guideline(
                "backups.retention_days", "set rule.lifecycle.delete_after >= the spec's value"
            ),
        )
        self.severity = severity("MEDIUM")

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        self.evaluated_keys = ["rule/[0]/lifecycle/[0]/delete_after"]
        policy = contract(self.graph, self.entity_path, conf["__address__"]) or {}
        wanted = as_int(policy.get("backup_retention_days"))
        rules = conf.get("rule") or []
        if wanted is None or not rules:
            self.details.append("no servespec_policy contract or no backup rule")
            return CheckResult.FAILED
        for rule in rules:
            days = _kept_days(rule)
            if days is None or (days != 0 and days < wanted):
                self.details.append(f"delete_after = {days}, spec asks for >= {wanted}")
                return CheckResult.FAILED
        return CheckResult.PASSED


check = BackupRetentionMeetsSpec()
