"""The Config rules of an environment: AWS managed rules chosen from the spec.

AWS Config's recorder and delivery channel are one per account and region (the account
root creates them); each environment adds the rules that judge its own resources.
"""

from __future__ import annotations

from dataclasses import dataclass

from compiler.spec import ResolvedSpec
from compiler.terraform.hcl import Block, resource
from compiler.terraform.plan import has_secondary, replicates

from . import buckets, region
from .region import Region


@dataclass(frozen=True)
class ConfigRule:
    """An AWS managed Config rule (https://docs.aws.amazon.com/config/latest/developerguide)."""

    identifier: str
    parameters: tuple[tuple[str, str], ...] = ()
    resource_types: tuple[str, ...] = ()


def config_rules(spec: ResolvedSpec) -> list[ConfigRule]:
    """Managed rules chosen from the security section and the compliance profiles."""
    rules = [*_baseline(spec), *_optional(spec), *_profiles(spec)]
    unique = {rule.identifier: rule for rule in rules}
    return [unique[key] for key in sorted(unique)]


def _baseline(spec: ResolvedSpec) -> list[ConfigRule]:
    return [
        ConfigRule("S3_BUCKET_LEVEL_PUBLIC_ACCESS_PROHIBITED"),
        ConfigRule("S3_BUCKET_SSL_REQUESTS_ONLY"),
        ConfigRule("S3_DEFAULT_ENCRYPTION_KMS"),
        ConfigRule("S3_BUCKET_VERSIONING_ENABLED"),
        ConfigRule("CLOUDWATCH_LOG_GROUP_ENCRYPTED"),
        ConfigRule("ECR_PRIVATE_IMAGE_SCANNING_ENABLED"),
        ConfigRule("ECR_PRIVATE_TAG_IMMUTABILITY_ENABLED"),
        ConfigRule("ECS_CONTAINERS_NONPRIVILEGED"),
        ConfigRule("ECS_CONTAINERS_READONLY_ACCESS"),
        ConfigRule("ECS_TASK_DEFINITION_NONROOT_USER"),
        ConfigRule("ALB_HTTP_TO_HTTPS_REDIRECTION_CHECK"),
        ConfigRule("ELB_LOGGING_ENABLED"),
        ConfigRule("INCOMING_SSH_DISABLED"),
        ConfigRule("VPC_DEFAULT_SECURITY_GROUP_CLOSED"),
        ConfigRule("IAM_POLICY_NO_STATEMENTS_WITH_ADMIN_ACCESS"),
        ConfigRule("KMS_CMK_NOT_SCHEDULED_FOR_DELETION"),
        ConfigRule(
            "CW_LOGGROUP_RETENTION_PERIOD_CHECK",
            (("MinRetentionTime", str(spec.observability.log_retention_days)),),
        ),
    ]


def _optional(spec: ResolvedSpec) -> list[ConfigRule]:
    """Rules for what the spec turned on."""
    audit = spec.security.audit
    rules = []
    if spec.security.kms.rotation:
        rules.append(ConfigRule("CMK_BACKING_KEY_ROTATION_ENABLED"))
    if spec.security.waf.enabled:
        rules.append(ConfigRule("ALB_WAF_ENABLED"))
    if spec.production:
        rules.append(ConfigRule("ELB_DELETION_PROTECTION_ENABLED"))
    if audit.cloudtrail:
        rules += [
            ConfigRule("MULTI_REGION_CLOUD_TRAIL_ENABLED"),
            ConfigRule("CLOUD_TRAIL_LOG_FILE_VALIDATION_ENABLED"),
            ConfigRule("CLOUD_TRAIL_ENCRYPTION_ENABLED"),
            ConfigRule("CLOUD_TRAIL_CLOUD_WATCH_LOGS_ENABLED"),
        ]
    if audit.guardduty:
        rules.append(ConfigRule("GUARDDUTY_ENABLED_CENTRALIZED"))
    if spec.backups.enabled:
        rules += [
            ConfigRule("BACKUP_RECOVERY_POINT_ENCRYPTED"),
            ConfigRule(
                "BACKUP_PLAN_MIN_FREQUENCY_AND_MIN_RETENTION_CHECK",
                (("requiredRetentionDays", str(spec.backups.retention_days)),),
            ),
        ]
    if replicates(spec):
        rules.append(ConfigRule("S3_BUCKET_REPLICATION_ENABLED"))
    return rules


def _profiles(spec: ResolvedSpec) -> list[ConfigRule]:
    compliance = spec.security.compliance
    rules = []
    if "hipaa" in compliance:
        rules += [
            ConfigRule("S3_BUCKET_DEFAULT_LOCK_ENABLED", resource_types=("AWS::S3::Bucket",)),
            ConfigRule("S3_BUCKET_LOGGING_ENABLED"),
            ConfigRule("BACKUP_RECOVERY_POINT_MANUAL_DELETION_DISABLED"),
            ConfigRule("ELB_TLS_HTTPS_LISTENERS_ONLY"),
            ConfigRule("IAM_ROOT_ACCESS_KEY_CHECK"),
            ConfigRule("ROOT_ACCOUNT_MFA_ENABLED"),
            ConfigRule("ACCESS_KEYS_ROTATED", (("maxAccessKeyAge", "90"),)),
        ]
    if "gdpr" in compliance:
        rules += [
            ConfigRule("S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED"),
            ConfigRule("SECRETSMANAGER_USING_CMK"),
            ConfigRule("SNS_ENCRYPTED_KMS"),
        ]
    return rules


# Rules about account-wide (global) resources: evaluated once, in the primary region.
GLOBAL_RULES = frozenset(
    {
        "IAM_POLICY_NO_STATEMENTS_WITH_ADMIN_ACCESS",
        "IAM_ROOT_ACCESS_KEY_CHECK",
        "ROOT_ACCOUNT_MFA_ENABLED",
        "ACCESS_KEYS_ROTATED",
        "MULTI_REGION_CLOUD_TRAIL_ENABLED",
        "GUARDDUTY_ENABLED_CENTRALIZED",
    }
)


def blocks(spec: ResolvedSpec) -> list[Block]:
    """The environment's Config rules in its primary region and, when anything of it lives
    in the DR region, the regional ones there too (the account root records both)."""
    rules = config_rules(spec)
    found = [_rule(rule, region.primary(spec.region)) for rule in rules]
    if has_secondary(spec) and spec.dr.secondary_region is not None:
        there = region.secondary(spec.dr.secondary_region)
        found += [_rule(rule, there) for rule in rules if rule.identifier not in GLOBAL_RULES]
    return found


def _rule(rule: ConfigRule, where: Region) -> Block:
    name = rule.identifier.lower().replace("_", "-")
    body: list[object] = [where.on({"name": where.aws_name(f"-{name}")})]
    if rule.parameters:
        body.append({"input_parameters": buckets.document(dict(rule.parameters))})
    body.append(Block("source", (), {"owner": "AWS", "source_identifier": rule.identifier}))
    if rule.resource_types:
        body.append(Block("scope", (), {"compliance_resource_types": list(rule.resource_types)}))
    label = where.label(name.replace("-", "_"))
    return resource("aws_config_config_rule", label, body)  # type: ignore[arg-type]
