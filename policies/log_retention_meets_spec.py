"""SSP_LOG_001: log groups keep logs at least as long as the spec asks."""

from __future__ import annotations

from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck
from ssp_lib import as_int, contract, first, guideline, severity


class LogRetentionMeetsSpec(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Log group retention is at least the spec's log_retention_days",
            id="SSP_LOG_001",
            categories=(CheckCategories.LOGGING,),
            supported_resources=("aws_cloudwatch_log_group",),
            guideline=guideline(
                "observability.log_retention_days",
                "set retention_in_days >= the spec's value (0 keeps logs forever)",
            ),
        )
        self.severity = severity("MEDIUM")

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        self.evaluated_keys = ["retention_in_days"]
        policy = contract(self.graph, self.entity_path, conf["__address__"]) or {}
        wanted = as_int(policy.get("log_retention_days"))
        days = as_int(first(conf, "retention_in_days") or 0)
        if wanted is None or days is None:
            self.details.append("no servespec_policy contract or retention not static")
            return CheckResult.FAILED
        # 0 (or unset) means never expire, which satisfies any minimum.
        if days == 0 or days >= wanted:
            return CheckResult.PASSED
        self.details.append(f"retention_in_days = {days}, spec asks for >= {wanted}")
        return CheckResult.FAILED


check = LogRetentionMeetsSpec()
