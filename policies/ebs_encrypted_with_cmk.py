"""SSP_ENC_007: EBS volumes, launch-template and instance disks are encrypted with the CMK."""

from __future__ import annotations

from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck
from ssp_lib import as_bool, cmk_problem, first, guideline, severity


def _disks(conf: dict[str, Any], entity_type: str) -> list[dict[str, Any]]:
    if entity_type == "aws_ebs_volume":
        return [conf]
    if entity_type == "aws_launch_template":
        return [e for m in conf.get("block_device_mappings") or [] for e in m.get("ebs") or []]
    blocks = ("root_block_device", "ebs_block_device")
    return [d for name in blocks for d in conf.get(name) or []]


class EbsEncryptedWithCmk(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="EBS disks are encrypted with a customer-managed KMS key",
            id="SSP_ENC_007",
            categories=(CheckCategories.ENCRYPTION,),
            supported_resources=("aws_ebs_volume", "aws_launch_template", "aws_instance"),
            guideline=guideline("security.kms", "set encrypted = true and kms_key_id = CMK ARN"),
        )
        self.severity = severity("HIGH")

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        disks = _disks(conf, self.entity_type)
        # A launch template or instance without disk blocks inherits the AMI's mapping,
        # which this module does not control: that is a failure, not a pass.
        if not disks:
            return CheckResult.FAILED
        for disk in disks:
            problem = cmk_problem(self, conf["__address__"], first(disk, "kms_key_id"))
            if not as_bool(first(disk, "encrypted")) or problem:
                self.details.append(problem or "encrypted is not true")
                return CheckResult.FAILED
        return CheckResult.PASSED


check = EbsEncryptedWithCmk()
