"""SSP_EC2_001: EC2 hosts only answer session-token (IMDSv2) metadata requests."""

from __future__ import annotations

from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck
from ssp_lib import first, guideline, severity


class Imdsv2Required(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Launch templates and instances require IMDSv2",
            id="SSP_EC2_001",
            categories=(CheckCategories.GENERAL_SECURITY,),
            supported_resources=("aws_launch_template", "aws_instance"),
            guideline=guideline(
                "compute.platform (ec2)",
                'metadata_options { http_tokens = "required", http_put_response_hop_limit = 1 }',
            ),
        )
        self.severity = severity("HIGH")

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        self.evaluated_keys = ["metadata_options/[0]/http_tokens"]
        options = (conf.get("metadata_options") or [{}])[0]
        # A disabled endpoint has no metadata to steal; otherwise tokens must be required.
        if (
            first(options, "http_endpoint") == "disabled"
            or first(options, "http_tokens") == "required"
        ):
            return CheckResult.PASSED
        return CheckResult.FAILED


check = Imdsv2Required()
