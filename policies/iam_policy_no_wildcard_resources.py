"""SSP_IAM_002: IAM policies scope Resource for every action that supports scoping."""

from __future__ import annotations

from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck
from ssp_lib import IAM_POLICY_RESOURCES, allow_statements, as_list, guideline, severity

# Actions AWS does not let a policy scope to a resource: "*" is the only valid Resource.
# Deliberately short: an action missing here fails safe (it must be scoped or waived).
UNSCOPABLE = frozenset(
    {
        "ecr:getauthorizationtoken",
        "sts:getcalleridentity",
        "cloudwatch:putmetricdata",
        "cloudwatch:getmetricdata",
        "cloudwatch:listmetrics",
        "xray:puttracesegments",
        "xray:puttelemetryrecords",
        "logs:describeloggroups",
        "s3:listallmybuckets",
        "kms:listaliases",
        "kms:listkeys",
        "ecs:listclusters",
        "ecs:describetaskdefinition",
        "ecs:registertaskdefinition",
        "ecs:deregistertaskdefinition",
        "ecs:listtaskdefinitions",
    }
)
# Whole families AWS documents without resource-level permissions.
UNSCOPABLE_PREFIXES = ("ec2:describe", "elasticloadbalancing:describe", "autoscaling:describe")


def _unscopable(action: Any) -> bool:
    name = str(action).lower()
    return name in UNSCOPABLE or name.startswith(UNSCOPABLE_PREFIXES)


class IamPolicyNoWildcardResources(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="IAM policies use Resource '*' only for actions that cannot be scoped",
            id="SSP_IAM_002",
            categories=(CheckCategories.IAM,),
            supported_resources=IAM_POLICY_RESOURCES,
            guideline=guideline(
                "security (least privilege)", "name the ARNs (bucket, key, log group) in Resource"
            ),
        )
        self.severity = severity("HIGH")

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        self.evaluated_keys = ["policy"]
        found = allow_statements(conf)
        if found is None:
            return CheckResult.FAILED
        for statement in found:
            if "*" in as_list(statement.get("Resource")) and not all(
                map(_unscopable, as_list(statement.get("Action")))
            ):
                return CheckResult.FAILED
        return CheckResult.PASSED


check = IamPolicyNoWildcardResources()
