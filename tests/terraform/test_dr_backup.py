"""backup.tf: vault, plan and tag selection; copies iff asked; vault locks iff hipaa."""

from __future__ import annotations

from typing import Any

import pytest

from compiler.spec import ResolvedSpec
from compiler.terraform.hcl import Block, Ref
from compiler.terraform.plan import plan
from compiler.terraform.stack import backup, dr

from .support import environments


def resources(blocks: list[Block], kind: str) -> dict[str, Block]:
    return {b.labels[1]: b for b in blocks if b.type == "resource" and b.labels[0] == kind}


def children(block: Block, kind: str) -> list[Block]:
    return [b for b in block.body if isinstance(b, Block) and b.type == kind]


def changed(spec: ResolvedSpec, **backups: Any) -> ResolvedSpec:
    return spec.model_copy(update={"backups": spec.backups.model_copy(update=backups)})


def with_compliance(spec: ResolvedSpec, profiles: list[str]) -> ResolvedSpec:
    security = spec.security.model_copy(update={"compliance": profiles})
    return spec.model_copy(update={"security": security})


@pytest.mark.parametrize("copy", [True, False])
def test_copy_action_iff_copy_to_secondary(copy: bool) -> None:
    spec = changed(environments("assistant")[1], copy_to_secondary=copy)
    blocks = backup.blocks(plan(spec))
    rule = children(resources(blocks, "aws_backup_plan")["main"], "rule")[0]
    actions = children(rule, "copy_action")
    vaults = resources(blocks, "aws_backup_vault")
    if copy:
        assert len(actions) == 1
        assert actions[0].attribute("destination_vault_arn") == Ref(
            "aws_backup_vault.secondary.arn"
        )
        lifecycle = children(actions[0], "lifecycle")[0]
        assert lifecycle.attribute("delete_after") == spec.backups.retention_days
        assert vaults["secondary"].attribute("provider") == dr.SECONDARY
        assert vaults["secondary"].attribute("kms_key_arn") == dr.secondary_key_arn(spec)
        assert "backup_copy_failed" in resources(blocks, "aws_cloudwatch_metric_alarm")
    else:
        assert actions == []
        assert set(vaults) == {"main"}
        assert "backup_copy_failed" not in resources(blocks, "aws_cloudwatch_metric_alarm")


def test_plan_follows_the_spec_schedule_and_retention() -> None:
    spec = environments("clinical-notes")[0]
    backup_plan = resources(backup.blocks(plan(spec)), "aws_backup_plan")["main"]
    rule = children(backup_plan, "rule")[0]
    assert rule.attribute("schedule") == "cron(0 */6 * * ? *)"
    assert children(rule, "lifecycle")[0].attribute("delete_after") == 2192
    vault = resources(backup.blocks(plan(spec)), "aws_backup_vault")["main"]
    assert vault.attribute("kms_key_arn") == Ref("aws_kms_key.main.arn")


def test_selection_is_by_tag_and_this_environment() -> None:
    spec = environments("assistant")[0]
    selection = resources(backup.blocks(plan(spec)), "aws_backup_selection")["tagged"]
    condition = children(selection, "condition")[0]
    pairs = {
        (b.attribute("key"), b.attribute("value")) for b in children(condition, "string_equals")
    }
    assert pairs == {
        ("aws:ResourceTag/servespec:backup", "true"),
        ("aws:ResourceTag/environment", "staging"),
        ("aws:ResourceTag/deployment", "assistant"),
    }


@pytest.mark.parametrize(
    ("example", "index", "profiles", "lock"),
    [
        ("assistant", 0, ["gdpr"], None),
        ("assistant", 1, ["hipaa"], "compliance"),  # production
        ("clinical-notes", 0, ["hipaa"], "governance"),  # staging
        ("clinical-notes", 1, [], None),
    ],
)
def test_vault_lock_iff_hipaa(
    example: str, index: int, profiles: list[str], lock: str | None
) -> None:
    spec = with_compliance(environments(example)[index], profiles)
    locks = resources(backup.blocks(plan(spec)), "aws_backup_vault_lock_configuration")
    if lock is None:
        assert locks == {}
        return
    assert set(locks) == {"main", "secondary"}  # both examples copy to the secondary vault
    for block in locks.values():
        assert block.attribute("min_retention_days") == spec.backups.retention_days
        names = {item.name for item in block.body if hasattr(item, "name")}
        # changeable_for_days turns a governance lock into a compliance lock.
        assert ("changeable_for_days" in names) is (lock == "compliance")


def test_backups_off_emit_nothing() -> None:
    assert backup.blocks(plan(changed(environments("assistant")[0], enabled=False))) == []


def test_the_model_bucket_is_always_selected() -> None:
    """By ARN, so a lost or missing tag cannot silently stop its backups."""
    blocks = backup.blocks(plan(environments("clinical-notes")[1]))
    stack = resources(blocks, "aws_backup_selection")["stack"]
    assert stack.attribute("resources") == [Ref("aws_s3_bucket.models.arn")]
    assert stack.attribute("plan_id") == Ref("aws_backup_plan.main.id")
