"""SSP_ECS_001: ECS tasks run in private subnets without a public IP."""

from __future__ import annotations

from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck
from ssp_lib import as_bool, first, guideline, severity


class EcsServiceNoPublicIp(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="ECS services do not assign public IPs to tasks",
            id="SSP_ECS_001",
            categories=(CheckCategories.NETWORKING,),
            supported_resources=("aws_ecs_service",),
            guideline=guideline(
                "compute.platform",
                "network_configuration { assign_public_ip = false, subnets = private subnets }",
            ),
        )
        self.severity = severity("HIGH")

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        self.evaluated_keys = ["network_configuration/[0]/assign_public_ip"]
        for network in conf.get("network_configuration") or []:
            if as_bool(first(network, "assign_public_ip")):
                return CheckResult.FAILED
        return CheckResult.PASSED


check = EcsServiceNoPublicIp()
