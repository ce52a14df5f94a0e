"""AWS names shared with the terraform emitter: one place, so both sides agree."""

from __future__ import annotations


def models_bucket_name(deployment: str, environment: str, account_id: str) -> str:
    """The artifact bucket of one deployment and environment (account-scoped: S3 is global)."""
    return f"{deployment}-{environment}-models-{account_id}"


def kms_alias_name(deployment: str, environment: str) -> str:
    """The alias of the deployment's customer-managed KMS key."""
    return f"alias/{deployment}-{environment}"


def model_prefix(model_name: str, version: str) -> str:
    """Where one immutable model version lives inside the bucket."""
    return f"models/{model_name}/{version}/"
