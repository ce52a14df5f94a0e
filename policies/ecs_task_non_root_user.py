"""SSP_ECS_002: ECS containers run as a non-root user."""

from __future__ import annotations

from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck
from ssp_lib import container_definitions, guideline, severity

ROOT_USERS = ("", "root", "0")


def _ok(container: dict[str, Any]) -> bool:
    # "user" may be "name", "uid" or "uid:gid"; root is uid 0 whatever the group.
    user = str(container.get("user") or "").split(":", 1)[0].strip()
    return user not in ROOT_USERS


class EcsTaskNonRootUser(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="ECS containers run as a non-root user",
            id="SSP_ECS_002",
            categories=(CheckCategories.GENERAL_SECURITY,),
            supported_resources=("aws_ecs_task_definition",),
            guideline=guideline(
                "compute (runtime image)",
                'set "user" in every container definition to a non-root uid, e.g. "10001:10001"',
            ),
        )
        self.severity = severity("HIGH")

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        self.evaluated_keys = ["container_definitions"]
        containers = container_definitions(conf)
        # Definitions checkov cannot resolve are a failure: a silent pass is what we avoid.
        if containers is None or not all(_ok(c) for c in containers):
            return CheckResult.FAILED
        return CheckResult.PASSED


check = EcsTaskNonRootUser()
