"""SSP_ENC_005: Secrets Manager secrets encrypt with a customer-managed KMS key."""

from __future__ import annotations

from checkov.common.models.enums import CheckCategories
from ssp_lib import CmkAttributeCheck, guideline, severity


class SecretEncryptedWithCmk(CmkAttributeCheck):
    key_attribute = "kms_key_id"

    def __init__(self) -> None:
        super().__init__(
            name="Secrets Manager secrets encrypt with a customer-managed KMS key",
            id="SSP_ENC_005",
            categories=(CheckCategories.ENCRYPTION,),
            supported_resources=("aws_secretsmanager_secret",),
            guideline=guideline("security.kms", "set kms_key_id to the spec's CMK ARN"),
        )
        self.severity = severity("HIGH")


check = SecretEncryptedWithCmk()
