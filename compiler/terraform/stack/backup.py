"""backup.tf: AWS Backup for every stateful resource of the stack.

The stack's own stateful resources (the model bucket) are selected by ARN; anything else
opts in by tag (`servespec:backup = "true"`), narrowed to this deployment's environment
tags so that two environments sharing an account never back up each other.

Recovery points are copied to a vault in `dr.secondary_region` when
`backups.copy_to_secondary`; compliance profiles that demand immutable backups (hipaa) lock
the vaults: governance mode outside production (an administrator can still lift it),
compliance mode in production (nobody can, after the three-day grace period AWS gives to
undo a mistake).
"""

from __future__ import annotations

from compiler.spec import ResolvedSpec
from compiler.terraform.hcl import Block, Ref, Template, Value, resource
from compiler.terraform.plan import Plan, locks_vaults
from compiler.terraform.plan import copies_backups as copies

from . import buckets, common, dr_plan
from .cloudwatch import alarm, on_any_event

__all__ = ["blocks", "copies", "locks_vaults"]

BACKUP_TAG = "servespec:backup"
# Provider default_tags (root.default_tags) put these on every resource of the root module.
DEPLOYMENT_TAG = "deployment"
ENVIRONMENT_TAG = "environment"
LOCK_GRACE_DAYS = 3  # AWS's minimum cooling-off period before a compliance-mode lock sets
START_WINDOW_MINUTES = 60
COMPLETION_WINDOW_MINUTES = 24 * 60
# Stateful resources of the stack (the model artifacts); audit logs are protected by Object
# Lock and replication instead, images by ECR replication.
STATEFUL = ("aws_s3_bucket.models",)
# AWS managed policies by path: the two general ones are service-role policies, the two S3
# ones (added 2022) are not (docs.aws.amazon.com/aws-managed-policy/latest/reference/).
MANAGED_POLICIES = (
    "service-role/AWSBackupServiceRolePolicyForBackup",
    "service-role/AWSBackupServiceRolePolicyForRestores",
    "AWSBackupServiceRolePolicyForS3Backup",
    "AWSBackupServiceRolePolicyForS3Restore",
)


def blocks(p: Plan) -> list[Block]:
    spec = p.spec
    if not spec.backups.enabled:
        return []
    found = [_vault("main", spec, secondary=False)]
    if copies(spec):
        found.append(_vault("secondary", spec, secondary=True))
    if locks_vaults(spec):
        found.append(_lock("main", spec, secondary=False))
        if copies(spec):
            found.append(_lock("secondary", spec, secondary=True))
    return [*found, *_role(), _plan(spec), _known(), _selection(spec), *_alarms(spec)]


def _vault(label: str, spec: ResolvedSpec, *, secondary: bool) -> Block:
    key = dr_plan.secondary_key_arn(spec) if secondary else Ref("aws_kms_key.main.arn")
    suffix = "-dr" if secondary else ""
    body: dict[str, Value] = {"provider": dr_plan.SECONDARY} if secondary else {}
    name = Template(f"${{local.name}}{suffix}") if suffix else Ref("local.name")
    body |= {"name": name, "kms_key_arn": key}
    return resource("aws_backup_vault", label, body)


def _lock(label: str, spec: ResolvedSpec, *, secondary: bool) -> Block:
    body: dict[str, Value] = {"provider": dr_plan.SECONDARY} if secondary else {}
    body |= {
        "backup_vault_name": Ref(f"aws_backup_vault.{label}.name"),
        # Recovery points cannot be deleted or shortened below the spec's retention.
        "min_retention_days": spec.backups.retention_days,
    }
    if spec.production:
        body["changeable_for_days"] = LOCK_GRACE_DAYS
    return resource("aws_backup_vault_lock_configuration", label, body)


def _role() -> list[Block]:
    role = resource(
        "aws_iam_role",
        "backup",
        {
            "name": Template("${local.name}-backup"),
            "description": "AWS Backup creates, copies and restores this deployment's backups",
            "assume_role_policy": buckets.document(common.assume_role("backup.amazonaws.com")),
        },
    )
    attachments = [
        resource(
            "aws_iam_role_policy_attachment",
            f"backup_{name.rpartition('PolicyFor')[2].lower()}",
            {
                "role": Ref("aws_iam_role.backup.name"),
                "policy_arn": Template(f"arn:{common.PARTITION}:iam::aws:policy/{name}"),
            },
        )
        for name in MANAGED_POLICIES
    ]
    return [role, *attachments]


def _lifecycle(spec: ResolvedSpec) -> Block:
    return Block("lifecycle", (), {"delete_after": spec.backups.retention_days})


def _plan(spec: ResolvedSpec) -> Block:
    rule: list[Block | dict[str, Value]] = [
        {
            "rule_name": "scheduled",
            "target_vault_name": Ref("aws_backup_vault.main.name"),
            "schedule": spec.backups.schedule,
            "start_window": START_WINDOW_MINUTES,
            "completion_window": COMPLETION_WINDOW_MINUTES,
            "recovery_point_tags": {"servespec:deployment": Ref("local.name")},
        },
        _lifecycle(spec),
    ]
    if copies(spec):
        rule.append(
            Block(
                "copy_action",
                (),
                [
                    {"destination_vault_arn": Ref("aws_backup_vault.secondary.arn")},
                    _lifecycle(spec),
                ],
            )
        )
    return resource(
        "aws_backup_plan",
        "main",
        [{"name": Ref("local.name")}, Block("rule", (), rule)],
    )


def _known() -> Block:
    """The stateful resources this stack itself creates, by ARN: backed up even if a tag is
    lost. (A resource in both selections is backed up once per rule.)"""
    return resource(
        "aws_backup_selection",
        "stack",
        {
            "name": Template("${local.name}-stack"),
            "plan_id": Ref("aws_backup_plan.main.id"),
            "iam_role_arn": Ref("aws_iam_role.backup.arn"),
            "resources": [Ref(f"{address}.arn") for address in STATEFUL],
        },
    )


def _selection(spec: ResolvedSpec) -> Block:
    conditions = [
        Block("string_equals", (), {"key": f"aws:ResourceTag/{BACKUP_TAG}", "value": "true"}),
        Block(
            "string_equals",
            (),
            {"key": f"aws:ResourceTag/{ENVIRONMENT_TAG}", "value": spec.environment},
        ),
        Block(
            "string_equals",
            (),
            {"key": f"aws:ResourceTag/{DEPLOYMENT_TAG}", "value": spec.metadata.name},
        ),
    ]
    return resource(
        "aws_backup_selection",
        "tagged",
        [
            {
                "name": Template("${local.name}-tagged"),
                "plan_id": Ref("aws_backup_plan.main.id"),
                "iam_role_arn": Ref("aws_iam_role.backup.arn"),
                # Every resource of the account, narrowed by the tag conditions below.
                "resources": ["*"],
            },
            Block("condition", (), conditions),
        ],
    )


def _alarms(spec: ResolvedSpec) -> list[Block]:
    metrics = [("backup_failed", "NumberOfBackupJobsFailed", "A backup job failed")]
    if copies(spec):
        metrics.append(
            (
                "backup_copy_failed",
                "NumberOfCopyJobsFailed",
                f"Copying a recovery point to {spec.dr.secondary_region} failed",
            )
        )
    return [
        alarm(
            label,
            {
                "alarm_description": (
                    f"{what} for vault {common.name(spec)}: the newest recovery point is "
                    f"older than the schedule ({spec.backups.schedule}) promises. See "
                    "RUNBOOK.md, 'Backups failing'."
                ),
                "namespace": "AWS/Backup",
                "metric_name": metric,
                "dimensions": {"BackupVaultName": Ref("aws_backup_vault.main.name")},
                **on_any_event(3600),
            },
            notify_ok=False,
        )
        for label, metric, what in metrics
    ]
