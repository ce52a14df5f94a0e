"""SSP_ECS_003: ECS containers are not privileged."""

from __future__ import annotations

from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck
from ssp_lib import container_definitions, guideline, severity


# checkov's CKV_AWS_334 reads "privilege" (sic), so "privileged": true slips past it.
def _ok(container: dict[str, Any]) -> bool:
    return str(container.get("privileged", False)).lower() != "true"


class EcsTaskNotPrivileged(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="ECS containers are not privileged",
            id="SSP_ECS_003",
            categories=(CheckCategories.GENERAL_SECURITY,),
            supported_resources=("aws_ecs_task_definition",),
            guideline=guideline(
                "compute (runtime image)", 'remove "privileged": true from the container definition'
            ),
        )
        self.severity = severity("CRITICAL")

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        self.evaluated_keys = ["container_definitions"]
        containers = container_definitions(conf)
        # Definitions checkov cannot resolve are a failure: a silent pass is what we avoid.
        if containers is None or not all(_ok(c) for c in containers):
            return CheckResult.FAILED
        return CheckResult.PASSED


check = EcsTaskNotPrivileged()
