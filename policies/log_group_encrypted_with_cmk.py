"""SSP_ENC_002: CloudWatch log groups encrypt with a customer-managed KMS key."""

from __future__ import annotations

from checkov.common.models.enums import CheckCategories
from ssp_lib import CmkAttributeCheck, guideline, severity


class LogGroupEncryptedWithCmk(CmkAttributeCheck):
    key_attribute = "kms_key_id"

    def __init__(self) -> None:
        super().__init__(
            name="CloudWatch log groups encrypt with a customer-managed KMS key",
            id="SSP_ENC_002",
            categories=(CheckCategories.ENCRYPTION,),
            supported_resources=("aws_cloudwatch_log_group",),
            guideline=guideline("security.kms", "set kms_key_id to the spec's CMK ARN"),
        )
        self.severity = severity("HIGH")


check = LogGroupEncryptedWithCmk()
