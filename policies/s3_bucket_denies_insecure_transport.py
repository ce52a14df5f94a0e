"""SSP_S3_003: every bucket's policy denies requests made without TLS."""

from __future__ import annotations

from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck
from ssp_lib import as_list, guideline, severity, siblings, statements


def _denies_plain_http(statement: dict[str, Any]) -> bool:
    condition = statement.get("Condition") or {}
    flag = (
        (condition.get("Bool") or {}).get("aws:SecureTransport")
        if isinstance(condition, dict)
        else None
    )
    return statement.get("Effect") == "Deny" and str(as_list(flag)[0]).lower() == "false"


class S3BucketDeniesInsecureTransport(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="S3 buckets have a policy that denies aws:SecureTransport = false",
            id="SSP_S3_003",
            categories=(CheckCategories.NETWORKING,),
            supported_resources=("aws_s3_bucket",),
            guideline=guideline(
                "security.tls",
                "attach aws_s3_bucket_policy (jsonencode of literals) with a Deny statement "
                "on Bool aws:SecureTransport = false",
            ),
        )
        self.severity = severity("HIGH")

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        # The policy resource refers to the bucket as aws_s3_bucket.<name>.id (or .bucket).
        prefix = f"{conf.get('__address__')}."
        policies = [
            p
            for p in siblings(
                self.graph, self.entity_path, conf["__address__"], "aws_s3_bucket_policy"
            )
            if str(p.get("bucket", "")).startswith(prefix)
        ]
        for policy in policies:
            if any(_denies_plain_http(s) for s in statements(policy.get("policy")) or []):
                return CheckResult.PASSED
        return CheckResult.FAILED


check = S3BucketDeniesInsecureTransport()
