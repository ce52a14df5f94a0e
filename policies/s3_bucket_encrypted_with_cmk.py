"""SSP_ENC_001: S3 default encryption is SSE-KMS with the spec's customer-managed key."""

from __future__ import annotations

from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck
from ssp_lib import cmk_problem, guideline, severity, siblings

KMS_ALGORITHMS = ("aws:kms", "aws:kms:dsse")
LOG_WRITERS = (("aws_s3_bucket_logging", "target_bucket"), ("aws_lb", "access_logs.bucket"))


def _is_log_destination(check: BaseResourceCheck, conf: dict[str, Any]) -> bool:
    """AWS delivers S3 server access logs and ALB logs only to SSE-S3 buckets."""
    bucket = str((conf.get("bucket") or [""])[0])
    prefix = bucket.rsplit(".", 1)[0] + "."  # aws_s3_bucket.logs.id -> aws_s3_bucket.logs.
    if not bucket.startswith("aws_s3_bucket."):
        return False
    for kind, attribute in LOG_WRITERS:
        for writer in siblings(check.graph, check.entity_path, conf["__address__"], kind):
            if str(writer.get(attribute, "")).startswith(prefix):
                return True
    return False


class S3BucketEncryptedWithCmk(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="S3 buckets encrypt with SSE-KMS under a customer-managed key",
            id="SSP_ENC_001",
            categories=(CheckCategories.ENCRYPTION,),
            supported_resources=("aws_s3_bucket_server_side_encryption_configuration",),
            guideline=guideline(
                "security.kms",
                'sse_algorithm = "aws:kms" and kms_master_key_id = the spec\'s CMK ARN '
                "(AES256 only on access-log buckets)",
            ),
        )
        self.severity = severity("HIGH")

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        self.evaluated_keys = ["rule/[0]/apply_server_side_encryption_by_default"]
        rules = conf.get("rule") or []
        defaults = [
            d for r in rules for d in (r.get("apply_server_side_encryption_by_default") or [])
        ]
        if not defaults:
            return CheckResult.FAILED
        for default in defaults:
            algorithm = (default.get("sse_algorithm") or [""])[0]
            key = (default.get("kms_master_key_id") or [""])[0]
            if algorithm == "AES256" and _is_log_destination(self, conf):
                continue
            problem = cmk_problem(self, conf["__address__"], key)
            if algorithm not in KMS_ALGORITHMS or problem:
                self.details.append(problem or f"sse_algorithm = {algorithm}")
                return CheckResult.FAILED
        return CheckResult.PASSED


check = S3BucketEncryptedWithCmk()
