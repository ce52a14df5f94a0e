"""kms.tf: the deployment's customer-managed key, used by every store of the stack.

The key policy is written inline from literals: a key policy's Resource is `*` by design
(it means "this key"), and IAM-policy checks misread it in an aws_iam_policy_document.
"""

from __future__ import annotations

from compiler.spec import ResolvedSpec
from compiler.terraform.hcl import Block, Template, Value, data, jsonencode
from compiler.terraform.plan import Plan

from . import common, kms_keys


def blocks(p: Plan) -> list[Block]:
    spec = p.spec
    kms = spec.security.kms
    description = Template("${local.name}: model artifacts, logs, images, secrets, alarms")
    body = {
        **kms_keys.key_settings(kms, description),
        "multi_region": kms.multi_region,
        "policy": jsonencode(key_policy(spec)),
    }
    found = []
    if spec.compute.platform == "ec2":
        # Fails the plan, naming the role, until the account root has created it.
        found.append(data("aws_iam_role", "autoscaling", {"name": "AWSServiceRoleForAutoScaling"}))
    return [*found, *kms_keys.key_with_alias("main", body, Template("alias/${local.name}"))]


def key_policy(spec: ResolvedSpec) -> dict[str, Value]:
    ec2 = spec.compute.platform == "ec2"
    extra = [_autoscaling_ebs(common.ACCOUNT)] if ec2 else []
    return kms_keys.region_key_policy(spec.region, *extra)


def _autoscaling_ebs(account: str) -> dict[str, Value]:
    # Auto Scaling launches instances with CMK-encrypted volumes through its service-linked
    # role, which needs the key and grants for EC2 (AWS documents exactly these actions).
    # The account root creates the role: a key policy naming a principal that does not
    # exist yet is refused (MalformedPolicyDocument), and a fresh account has none.
    role = Template(
        f"arn:{common.PARTITION}:iam::{account}:role/aws-service-role/"
        "autoscaling.amazonaws.com/${data.aws_iam_role.autoscaling.name}"
    )
    return {
        "Sid": "AutoScalingLaunchesEncryptedVolumes",
        "Effect": "Allow",
        "Principal": {"AWS": role},
        "Action": [
            "kms:Encrypt",
            "kms:Decrypt",
            "kms:ReEncrypt*",
            "kms:GenerateDataKey*",
            "kms:DescribeKey",
            "kms:CreateGrant",
        ],
        "Resource": "*",
    }
