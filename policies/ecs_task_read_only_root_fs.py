"""SSP_ECS_004: ECS containers have a read-only root filesystem."""

from __future__ import annotations

from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck
from ssp_lib import container_definitions, guideline, severity


def _ok(container: dict[str, Any]) -> bool:
    return str(container.get("readonlyRootFilesystem", False)).lower() == "true"


class EcsTaskReadOnlyRootFs(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="ECS containers have a read-only root filesystem",
            id="SSP_ECS_004",
            categories=(CheckCategories.GENERAL_SECURITY,),
            supported_resources=("aws_ecs_task_definition",),
            guideline=guideline(
                "compute (runtime image)",
                'set "readonlyRootFilesystem": true; mount a volume where the server writes',
            ),
        )
        self.severity = severity("MEDIUM")

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        self.evaluated_keys = ["container_definitions"]
        containers = container_definitions(conf)
        # Definitions checkov cannot resolve are a failure: a silent pass is what we avoid.
        if containers is None or not all(_ok(c) for c in containers):
            return CheckResult.FAILED
        return CheckResult.PASSED


check = EcsTaskReadOnlyRootFs()
