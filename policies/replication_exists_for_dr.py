"""SSP_DR_001: when the spec asks for DR, data is replicated to the secondary region."""

from __future__ import annotations

from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck
from ssp_lib import CONTRACT_ADDRESS, as_bool, guideline, severity, siblings


class ReplicationExistsForDr(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="S3 replication exists when the spec asks for disaster recovery",
            id="SSP_DR_001",
            categories=(CheckCategories.BACKUP_AND_RECOVERY,),
            supported_resources=("terraform_data",),
            guideline=guideline(
                "dr.secondary_region",
                "emit aws_s3_bucket_replication_configuration to the secondary region",
            ),
        )
        self.severity = severity("HIGH")

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        if conf.get("__address__") != CONTRACT_ADDRESS:
            return CheckResult.UNKNOWN
        self.evaluated_keys = ["input/[0]/dr_replication"]
        wanted = as_bool(((conf.get("input") or [{}])[0]).get("dr_replication"))
        kind = "aws_s3_bucket_replication_configuration"
        if not wanted or siblings(self.graph, self.entity_path, conf["__address__"], kind):
            return CheckResult.PASSED
        self.details.append(f"dr_replication = true but no {kind} in this module")
        return CheckResult.FAILED


check = ReplicationExistsForDr()
