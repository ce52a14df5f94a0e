"""SSP_ENC_003: SNS topics encrypt with a customer-managed KMS key."""

from __future__ import annotations

from checkov.common.models.enums import CheckCategories
from ssp_lib import CmkAttributeCheck, guideline, severity


class SnsTopicEncryptedWithCmk(CmkAttributeCheck):
    key_attribute = "kms_master_key_id"

    def __init__(self) -> None:
        super().__init__(
            name="SNS topics encrypt with a customer-managed KMS key",
            id="SSP_ENC_003",
            categories=(CheckCategories.ENCRYPTION,),
            supported_resources=("aws_sns_topic",),
            guideline=guideline(
                "security.kms", "set kms_master_key_id to the spec's CMK, not alias/aws/sns"
            ),
        )
        self.severity = severity("HIGH")


check = SnsTopicEncryptedWithCmk()
