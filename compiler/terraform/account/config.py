"""config.tf of an account root: AWS Config records every region an environment uses.

One recorder and one delivery channel per region is all AWS allows, so they live here, not
in environment roots (which keep their own Config rules). Config delivers to a bucket of
its own: not an environment's audit bucket, whose S3 Object Lock Config does not support,
and not one that an environment's destroy would take with it.
"""

from __future__ import annotations

from compiler.terraform.hcl import Attribute, Block, Comment, Ref, Template, Value, resource, skip
from compiler.terraform.stack import buckets, common, kms_keys
from compiler.terraform.stack.common import ACCOUNT, ACCOUNT_ID, PARTITION

from .plan import CONFIG_RECORDER, AccountPlan, RegionPlan
from .services import on

ROLE = "servespec-config"
MIN_HISTORY_DAYS = 365
HIPAA_HISTORY_DAYS = 2192  # six years


def bucket_name(region: RegionPlan) -> str:
    return f"servespec-config-{ACCOUNT}-{region.name}"


def _logs_name(region: RegionPlan) -> str:
    return f"servespec-config-logs-{ACCOUNT}-{region.name}"


def blocks(account: AccountPlan) -> list[Block]:
    recorded = [region for region in account.regions if region.config]
    if not recorded:
        return []
    found = _role(recorded)
    for region in recorded:
        found += _region(account, region)
    return found


def _role(regions: list[RegionPlan]) -> list[Block]:
    delivery = [
        common.statement(
            "DeliverSnapshots",
            ["s3:PutObject"],
            [
                Template(f"arn:{PARTITION}:s3:::{bucket_name(r)}/config/AWSLogs/{ACCOUNT}/Config/*")
                for r in regions
            ],
        ),
        common.statement(
            "CheckTheBuckets",
            ["s3:GetBucketAcl"],
            [Template(f"arn:{PARTITION}:s3:::{bucket_name(r)}") for r in regions],
        ),
        common.statement(
            "EncryptSnapshots",
            ["kms:GenerateDataKey", "kms:Decrypt"],
            [Ref(f"aws_kms_key.config_{r.alias}.arn") for r in regions],
        ),
    ]
    return [
        resource(
            "aws_iam_role",
            "config",
            {
                "name": ROLE,
                "description": "AWS Config records this account's resources",
                "assume_role_policy": buckets.document(common.assume_role("config.amazonaws.com")),
            },
        ),
        resource(
            "aws_iam_role_policy_attachment",
            "config",
            {
                "role": Ref("aws_iam_role.config.name"),
                "policy_arn": Template(
                    f"arn:{PARTITION}:iam::aws:policy/service-role/AWS_ConfigRole"
                ),
            },
        ),
        resource(
            "aws_iam_role_policy",
            "config_delivery",
            {
                "name": "deliver-to-config-buckets",
                "role": Ref("aws_iam_role.config.id"),
                "policy": buckets.document(common.policy(*delivery)),
            },
        ),
    ]


def _in_region(region: RegionPlan, found: list[Block]) -> list[Block]:
    return [block.with_items(Attribute("provider", on(region)), first=True) for block in found]


def _history_days(account: AccountPlan) -> int:
    if "hipaa" in account.compliance:
        return HIPAA_HISTORY_DAYS
    return max(account.log_retention_days, MIN_HISTORY_DAYS)


def _region(account: AccountPlan, region: RegionPlan) -> list[Block]:
    label = f"config_{region.alias}"
    found = [*_key(region, label), *_buckets(account, region, label)]
    found += _in_region(region, _recorder(account, region, label))
    return found


def _key(region: RegionPlan, label: str) -> list[Block]:
    body: dict[str, Value] = {
        "description": f"AWS Config snapshots and history in {region.name}",
        "enable_key_rotation": True,
        "rotation_period_in_days": 365,
        "deletion_window_in_days": 30,
        "policy": buckets.document(common.policy(kms_keys.account_administers())),
    }
    return _in_region(region, kms_keys.key_with_alias(label, body, "alias/servespec-config"))


def _config_statements(region: RegionPlan) -> tuple[dict[str, Value], ...]:
    """Config checks the bucket and writes snapshots, for this account only."""
    source = {"aws:SourceAccount": ACCOUNT_ID}
    arn = f"arn:{PARTITION}:s3:::{bucket_name(region)}"
    return (
        {
            "Sid": "ConfigChecksTheBucket",
            "Effect": "Allow",
            "Principal": {"Service": "config.amazonaws.com"},
            "Action": ["s3:GetBucketAcl", "s3:ListBucket"],
            "Resource": arn,
            "Condition": {"StringEquals": source},
        },
        {
            "Sid": "ConfigWritesSnapshots",
            "Effect": "Allow",
            "Principal": {"Service": "config.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": f"{arn}/config/AWSLogs/{ACCOUNT}/Config/*",
            "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", **source}},
        },
    )


def _buckets(account: AccountPlan, region: RegionPlan, label: str) -> list[Block]:
    days = _history_days(account)
    logs_arn = f"arn:{PARTITION}:s3:::{_logs_name(region)}"
    config_statements = _config_statements(region)
    access_logs = buckets.s3_access_logs_statement(f"{logs_arn}/s3-access/*")
    no_replication = skip(
        "CKV_AWS_144",
        "AWS Config history of this region; Config itself keeps the configuration "
        "items, and every region records its own",
    )
    logs = buckets.Bucket(
        label=f"{label}_logs",
        name=_logs_name(region),
        kms_key_arn=None,
        log_bucket=None,
        expire_days=days,
        skips=(
            skip(
                "CKV_AWS_144",
                "S3 access logs of the Config bucket: operational records of this region, "
                "not part of any recovery set",
            ),
            *buckets.access_log_bucket_skips(alb=False),
        ),
        extra_statements=(access_logs,),
    )
    history = buckets.Bucket(
        label=label,
        name=bucket_name(region),
        kms_key_arn=Ref(f"aws_kms_key.{label}.arn"),
        log_bucket=Ref(f"aws_s3_bucket.{label}_logs.id"),
        log_prefix="s3-access/config/",
        expire_days=days,
        noncurrent_days=days,
        skips=(no_replication,),
        extra_statements=config_statements,
    )
    return _in_region(region, buckets.bucket_blocks(logs) + buckets.bucket_blocks(history))


def _global_once(account: AccountPlan, region: RegionPlan) -> list[Comment]:
    if region == account.home:
        return []
    why = (
        f"every supported resource is recorded; global ones (IAM) once per account, in "
        f"{account.home.name}, as AWS recommends: recording them in every region duplicates "
        "each configuration item"
    )
    return [skip("CKV2_AWS_48", why)]


def _recorder(account: AccountPlan, region: RegionPlan, label: str) -> list[Block]:
    # Global resources (IAM) once per account, in the home region: not once per region.
    everything: dict[str, Value] = {
        "all_supported": True,
        "include_global_resource_types": region == account.home,
    }
    skips = _global_once(account, region)
    return [
        resource(
            "aws_config_configuration_recorder",
            label,
            [
                *skips,
                {"name": CONFIG_RECORDER, "role_arn": Ref("aws_iam_role.config.arn")},
                Block("recording_group", (), everything),
            ],
        ),
        resource(
            "aws_config_delivery_channel",
            label,
            [
                {
                    "name": CONFIG_RECORDER,
                    "s3_bucket_name": Ref(f"aws_s3_bucket.{label}.id"),
                    "s3_key_prefix": "config",
                    "s3_kms_key_arn": Ref(f"aws_kms_key.{label}.arn"),
                },
                Block(
                    "snapshot_delivery_properties", (), {"delivery_frequency": "TwentyFour_Hours"}
                ),
                # The role's permissions first: IAM is eventually consistent, and Config
                # tests delivery when the channel is created.
                {
                    "depends_on": [
                        Ref(f"aws_config_configuration_recorder.{label}"),
                        Ref(f"aws_s3_bucket_policy.{label}"),
                        Ref("aws_iam_role_policy_attachment.config"),
                        Ref("aws_iam_role_policy.config_delivery"),
                    ]
                },
            ],
        ),
        resource(
            "aws_config_configuration_recorder_status",
            label,
            {
                "name": Ref(f"aws_config_configuration_recorder.{label}.name"),
                "is_enabled": True,
                "depends_on": [Ref(f"aws_config_delivery_channel.{label}")],
            },
        ),
    ]


__all__ = ["blocks", "bucket_name"]
