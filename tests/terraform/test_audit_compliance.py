"""audit.tf: CloudTrail, Config and GuardDuty follow the security section and profiles."""

from __future__ import annotations

from typing import Any

import pytest

from compiler.spec import ResolvedSpec
from compiler.terraform.hcl import Block, Ref, render
from compiler.terraform.plan import plan
from compiler.terraform.stack import audit, dr

from .support import environments


def resources(blocks: list[Block], kind: str) -> dict[str, Block]:
    return {b.labels[1]: b for b in blocks if b.type == "resource" and b.labels[0] == kind}


def children(block: Block, kind: str) -> list[Block]:
    return [b for b in block.body if isinstance(b, Block) and b.type == kind]


def security(spec: ResolvedSpec, **update: Any) -> ResolvedSpec:
    return spec.model_copy(update={"security": spec.security.model_copy(update=update)})


def with_audit(spec: ResolvedSpec, **flags: bool) -> ResolvedSpec:
    return security(spec, audit=spec.security.audit.model_copy(update=flags))


@pytest.mark.parametrize(
    ("example", "index", "profiles", "mode"),
    [
        ("clinical-notes", 0, ["hipaa"], "GOVERNANCE"),
        ("clinical-notes", 1, ["hipaa"], "COMPLIANCE"),
        ("assistant", 1, ["gdpr"], None),
        ("assistant", 0, [], None),
    ],
)
def test_object_lock_iff_hipaa(
    example: str, index: int, profiles: list[str], mode: str | None
) -> None:
    spec = security(environments(example)[index], compliance=profiles)
    blocks = audit.blocks(plan(spec))
    locks = resources(blocks, "aws_s3_bucket_object_lock_configuration")
    buckets = resources(blocks, "aws_s3_bucket")
    if mode is None:
        assert locks == {}
        assert all("object_lock_enabled" not in render([b]) for b in buckets.values())
        return
    assert set(locks) == {"audit", "audit_replica"}
    for label, lock in locks.items():
        retention = children(children(lock, "rule")[0], "default_retention")[0]
        assert retention.attribute("mode") == mode
        assert retention.attribute("days") == audit.HIPAA_RETENTION_DAYS
        assert buckets[label].attribute("object_lock_enabled") is True


def test_trail_is_multi_region_validated_encrypted_and_delivered() -> None:
    spec = environments("assistant")[1]
    trail = resources(audit.blocks(plan(spec)), "aws_cloudtrail")["main"]
    assert trail.attribute("is_multi_region_trail") is True
    assert trail.attribute("enable_log_file_validation") is True
    assert trail.attribute("kms_key_id") == Ref("aws_kms_key.audit.arn")
    assert trail.attribute("sns_topic_name") == Ref("aws_sns_topic.audit.arn")
    assert trail.attribute("cloud_watch_logs_role_arn") == Ref("aws_iam_role.cloudtrail_logs.arn")
    selector = children(trail, "event_selector")[0]
    assert selector.attribute("read_write_type") == "WriteOnly"


def test_hipaa_records_reads_of_model_artifacts() -> None:
    blocks = audit.blocks(plan(environments("clinical-notes")[0]))
    trail = resources(blocks, "aws_cloudtrail")["main"]
    assert children(trail, "event_selector")[0].attribute("read_write_type") == "All"


def test_bucket_policy_lets_cloudtrail_deliver() -> None:
    blocks = audit.blocks(plan(environments("assistant")[0]))
    text = render([resources(blocks, "aws_s3_bucket_policy")["audit"]])
    for sid in ("DenyInsecureTransport", "CloudTrailChecksTheAcl", "CloudTrailWritesLogFiles"):
        assert f'"{sid}"' in text
    # AWS Config delivers to the account root's bucket (no Object Lock there).
    assert "ConfigWritesSnapshots" not in text
    assert "/cloudtrail/AWSLogs/${local.account_id}/*" in text


@pytest.mark.parametrize("gdpr", [True, False])
def test_gdpr_alarms_on_writes_outside_the_allowed_regions(gdpr: bool) -> None:
    spec = security(environments("assistant")[1], compliance=["gdpr"] if gdpr else [])
    filters = resources(audit.blocks(plan(spec)), "aws_cloudwatch_log_metric_filter")
    assert ("outside_allowed_regions" in filters) is gdpr
    assert "audit_tampering" in filters
    if gdpr:
        pattern = str(filters["outside_allowed_regions"].attribute("pattern"))
        assert '($.awsRegion != "eu-west-1")' in pattern
        assert '($.awsRegion != "eu-central-1")' in pattern
        assert "($.readOnly IS FALSE)" in pattern


def test_config_rules_follow_the_spec() -> None:
    hipaa = {rule.identifier for rule in audit.config_rules(environments("clinical-notes")[1])}
    gdpr = {rule.identifier for rule in audit.config_rules(environments("assistant")[0])}
    assert {"S3_BUCKET_DEFAULT_LOCK_ENABLED", "BACKUP_RECOVERY_POINT_MANUAL_DELETION_DISABLED",
            "GUARDDUTY_ENABLED_CENTRALIZED", "S3_BUCKET_REPLICATION_ENABLED"} <= hipaa  # fmt: skip
    assert "S3_BUCKET_DEFAULT_LOCK_ENABLED" not in gdpr
    assert "GUARDDUTY_ENABLED_CENTRALIZED" not in gdpr
    assert {"SECRETSMANAGER_USING_CMK", "SNS_ENCRYPTED_KMS"} <= gdpr
    none = dr_none(environments("assistant")[1])
    assert "S3_BUCKET_REPLICATION_ENABLED" not in {r.identifier for r in audit.config_rules(none)}


def dr_none(spec: ResolvedSpec) -> ResolvedSpec:
    return spec.model_copy(update={"dr": spec.dr.model_copy(update={"strategy": "none"})})


def test_environment_roots_add_config_rules_only() -> None:
    """The recorder is the account root's (test_account_root.py); rules are per environment."""
    blocks = audit.blocks(plan(environments("assistant")[0]))
    assert resources(blocks, "aws_config_config_rule")
    assert not resources(blocks, "aws_config_configuration_recorder")
    assert not resources(blocks, "aws_guardduty_detector")


def test_audit_off_emits_nothing() -> None:
    spec = with_audit(environments("assistant")[0], cloudtrail=False, config_rules=False)
    assert audit.blocks(plan(spec)) == []


def test_audit_bucket_without_dr_skips_replication_with_the_spec_reason() -> None:
    blocks = audit.blocks(plan(dr_none(environments("assistant")[0])))
    text = render([resources(blocks, "aws_s3_bucket")["audit"]])
    assert "#checkov:skip=CKV_AWS_144:dr.strategy is none" in text
    assert "audit_replica" not in resources(blocks, "aws_s3_bucket")
    assert not dr.replicates(dr_none(environments("assistant")[0]))


def test_config_rules_also_judge_the_dr_region() -> None:
    blocks = audit.blocks(plan(environments("clinical-notes")[1]))
    rules = resources(blocks, "aws_config_config_rule")
    primary = {label for label in rules if not label.endswith("_secondary")}
    secondary = {
        label.removesuffix("_secondary") for label in rules if label.endswith("_secondary")
    }
    # global rules (IAM, the account's trail) are evaluated once, in the primary
    assert secondary == primary - {"iam_policy_no_statements_with_admin_access",
                                   "iam_root_access_key_check", "root_account_mfa_enabled",
                                   "access_keys_rotated", "multi_region_cloud_trail_enabled",
                                   "guardduty_enabled_centralized"}  # fmt: skip
    assert rules["s3_bucket_versioning_enabled_secondary"].attribute("provider") == Ref(
        "aws.secondary"
    )
