"""SSP_S3_001: a bucket's public access block turns on all four protections."""

from __future__ import annotations

from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck
from ssp_lib import as_bool, first, guideline, severity

SETTINGS = (
    "block_public_acls",
    "block_public_policy",
    "ignore_public_acls",
    "restrict_public_buckets",
)


class S3PublicAccessBlocked(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="S3 public access blocks enable all four settings",
            id="SSP_S3_001",
            categories=(CheckCategories.NETWORKING,),
            supported_resources=("aws_s3_bucket_public_access_block",),
            guideline=guideline("security (no public data)", "set all four settings to true"),
        )
        self.severity = severity("CRITICAL")

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        self.evaluated_keys = list(SETTINGS)
        if all(as_bool(first(conf, name)) for name in SETTINGS):
            return CheckResult.PASSED
        return CheckResult.FAILED


check = S3PublicAccessBlocked()
