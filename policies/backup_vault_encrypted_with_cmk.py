"""SSP_ENC_006: Backup vaults encrypt recovery points with a customer-managed KMS key."""

from __future__ import annotations

from checkov.common.models.enums import CheckCategories
from ssp_lib import CmkAttributeCheck, guideline, severity


class BackupVaultEncryptedWithCmk(CmkAttributeCheck):
    key_attribute = "kms_key_arn"

    def __init__(self) -> None:
        super().__init__(
            name="Backup vaults encrypt recovery points with a customer-managed KMS key",
            id="SSP_ENC_006",
            categories=(CheckCategories.ENCRYPTION,),
            supported_resources=("aws_backup_vault",),
            guideline=guideline("security.kms", "set kms_key_arn to the spec's CMK ARN"),
        )
        self.severity = severity("HIGH")


check = BackupVaultEncryptedWithCmk()
