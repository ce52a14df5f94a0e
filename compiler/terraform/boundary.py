"""The permissions boundary that caps an environment's apply role and every role it creates.

The apply role needs broad rights (it creates VPCs, load balancers, ECS services, roles), so
a managed policy alone would let it do anything those services allow, and its `iam:CreateRole`
would let it mint a role with more than it holds itself. The boundary closes both: the apply
role may act only within the services the stack uses, may create roles only when they carry
this same boundary, may not lift or edit the boundary, may not touch the GitHub roles, and may
not create users or access keys. The bootstrap creates the policy and puts it on the apply
role; `bound_roles` puts it on every `aws_iam_role` of the environment's stack, so the cap
propagates to whatever the apply role creates.
"""

from __future__ import annotations

from compiler.spec import ResolvedSpec
from compiler.terraform.hcl import Attribute, Block, Template, Value, jsonencode, skip
from compiler.terraform.stack import common

# IAM service prefix of each resource-type family the environment roots declare
# (`aws_<family>_...`); a test proves every generated resource type is covered.
SERVICES: dict[str, str] = {
    "acm": "acm",
    "availability_zones": "ec2",
    "appautoscaling": "application-autoscaling",
    "autoscaling": "autoscaling",
    "backup": "backup",
    "cloudtrail": "cloudtrail",
    "cloudwatch_log": "logs",
    "cloudwatch": "cloudwatch",
    "config": "config",
    "default_security_group": "ec2",
    "ecr": "ecr",
    "ecs": "ecs",
    "elb": "elasticloadbalancing",
    "flow_log": "ec2",
    "guardduty": "guardduty",
    "iam": "iam",
    "internet_gateway": "ec2",
    "kms": "kms",
    "launch_template": "ec2",
    "lb": "elasticloadbalancing",
    "route53": "route53",
    "route": "ec2",
    "s3": "s3",
    "secretsmanager": "secretsmanager",
    "security_group": "ec2",
    "sns": "sns",
    "ssm": "ssm",
    "subnet": "ec2",
    "vpc": "ec2",
    "wafv2": "wafv2",
}
# Services the stack calls without declaring a resource of them: AWS Backup stores recovery
# points through backup-storage. Not sts: the apply role must not hop to roles that trust
# the account (GetCallerIdentity needs no permission).
EXTRA_SERVICES = ("backup-storage",)
# Services the stack only reads from: their actions, not `service:*` (ssm:SendCommand would
# run commands on the GPU hosts).
NARROW: dict[str, tuple[str, ...]] = {"ssm": ("ssm:GetParameter", "ssm:GetParameters")}
# Data sources the provider answers without an IAM-checked call.
NO_API_CALL = frozenset(
    {
        "aws_caller_identity",
        "aws_elb_service_account",
        "aws_ip_ranges",
        "aws_partition",
        "aws_region",
    }
)
# AWS Backup's S3 role policy (AWSBackupServiceRolePolicyForS3Backup, which the S3 backup
# guide says the backup role must hold) manages EventBridge rules named AwsBackupManagedRule*
# for the buckets it protects. The stack declares no EventBridge resource, so `events` is not a
# stack service: the boundary allows these actions on those rules only, or it would strip them
# from the backup role it bounds.
BACKUP_MANAGED_RULES = (
    "events:DeleteRule",
    "events:DescribeRule",
    "events:DisableRule",
    "events:EnableRule",
    "events:ListTargetsByRule",
    "events:PutRule",
    "events:PutTargets",
    "events:RemoveTargets",
)
# What neither the apply role nor any role it creates may ever do.
LONG_LIVED_CREDENTIALS = (
    "iam:CreateAccessKey",
    "iam:CreateLoginProfile",
    "iam:CreateUser",
    "iam:UpdateLoginProfile",
)


def service_of(resource_type: str) -> str | None:
    """The IAM service prefix of `aws_<type>`, or None when the table lacks it."""
    rest = resource_type.removeprefix("aws_")
    for family in sorted(SERVICES, key=len, reverse=True):
        if rest == family or rest.startswith(f"{family}_"):
            return SERVICES[family]
    return None


def policy_name(spec: ResolvedSpec) -> str:
    return f"{spec.metadata.name}-{spec.environment}-deploy-boundary"


def arn(spec: ResolvedSpec) -> Template:
    """The boundary's ARN from locals: both the bootstrap and the stack can write it."""
    return Template(f"arn:{common.PARTITION}:iam::{common.ACCOUNT}:policy/{policy_name(spec)}")


def document(spec: ResolvedSpec) -> dict[str, Value]:
    iam = f"arn:{common.PARTITION}:iam::{common.ACCOUNT}"
    services = sorted({*SERVICES.values(), *EXTRA_SERVICES})
    return common.policy(
        {
            "Sid": "OnlyTheStacksServices",
            "Effect": "Allow",
            "Action": [
                action for service in services for action in NARROW.get(service, (f"{service}:*",))
            ],
            "Resource": "*",
        },
        *_backup_managed_rules(),
        {
            "Sid": "NewRolesCarryThisBoundary",
            "Effect": "Deny",
            "Action": ["iam:CreateRole", "iam:PutRolePermissionsBoundary"],
            "Resource": "*",
            "Condition": {"StringNotEquals": {"iam:PermissionsBoundary": arn(spec)}},
        },
        {
            "Sid": "TheBoundaryStays",
            "Effect": "Deny",
            "Action": [
                "iam:CreatePolicyVersion",
                "iam:DeletePolicy",
                "iam:DeletePolicyVersion",
                "iam:DeleteRolePermissionsBoundary",
                "iam:SetDefaultPolicyVersion",
            ],
            "Resource": "*",
        },
        {
            "Sid": "TheGitHubRolesAreTheBootstraps",
            "Effect": "Deny",
            "NotAction": ["iam:Get*", "iam:List*"],
            "Resource": Template(f"{iam}:role/{spec.metadata.name}-*-github-*"),
        },
        *_state_store_fences(spec),
        {
            "Sid": "NoLongLivedCredentials",
            "Effect": "Deny",
            "Action": list(LONG_LIVED_CREDENTIALS),
            "Resource": "*",
        },
    )


def _backup_managed_rules() -> list[dict[str, Value]]:
    """What AWS Backup does with EventBridge for S3 backups, and nothing else of EventBridge
    (https://docs.aws.amazon.com/aws-backup/latest/devguide/s3-backups.html)."""
    rules = f"arn:{common.PARTITION}:events:*:{common.ACCOUNT}:rule/AwsBackupManagedRule*"
    return [
        common.statement("BackupManagesItsS3Rules", list(BACKUP_MANAGED_RULES), Template(rules)),
        common.statement("BackupListsRules", ["events:ListRules"], "*"),
    ]


def _state_store_fences(spec: ResolvedSpec) -> list[dict[str, Value]]:
    """The state fences live in the state bucket's policy and key: only the bootstrap (an
    administrator) changes them."""
    return [
        {
            "Sid": "TheStateStoreIsTheBootstraps",
            "Effect": "Deny",
            "Action": [
                "s3:DeleteBucket*",
                "s3:PutBucket*",
                "s3:PutEncryptionConfiguration",
                "s3:PutLifecycleConfiguration",
                "s3:PutReplicationConfiguration",
            ],
            "Resource": Template(f"arn:{common.PARTITION}:s3:::{common.state_bucket(spec)}"),
        },
        {
            "Sid": "TheStateKeyIsTheBootstraps",
            "Effect": "Deny",
            "Action": [
                "kms:CreateGrant",
                "kms:DisableKey",
                "kms:PutKeyPolicy",
                "kms:ScheduleKeyDeletion",
            ],
            "Resource": "*",
            "Condition": {
                "ForAnyValue:StringEquals": {"kms:ResourceAliases": common.state_key_alias(spec)}
            },
        },
    ]


def policy_block(spec: ResolvedSpec) -> Block:
    why = (
        "a permissions boundary grants nothing by itself: it caps the apply role and the "
        "roles it creates to the stack's services, with IAM fenced by the Deny statements"
    )
    return Block(
        "resource",
        ("aws_iam_policy", f"{spec.environment}_boundary"),
        [
            *(skip(check, why) for check in ("CKV_AWS_286", "CKV_AWS_287", "CKV_AWS_288")),
            *(skip(check, why) for check in ("CKV_AWS_289", "CKV_AWS_290", "CKV_AWS_355")),
            *(skip(check, why) for check in ("CKV2_AWS_40", "SSP_IAM_001", "SSP_IAM_002")),
            {
                "name": policy_name(spec),
                "description": f"Caps what deploys of {spec.environment} can create",
                "policy": jsonencode(document(spec)),
            },
        ],
    )


def bound_roles(spec: ResolvedSpec, blocks: list[Block]) -> list[Block]:
    """Every `aws_iam_role` of an environment root, with the boundary set."""
    return [
        block.with_items(Attribute("permissions_boundary", arn(spec)))
        if block.type == "resource" and block.labels[0] == "aws_iam_role"
        else block
        for block in blocks
    ]
