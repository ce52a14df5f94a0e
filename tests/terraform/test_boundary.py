"""The permissions boundary and the state fences: what an apply or plan role can never do."""

from __future__ import annotations

import fnmatch
import json
import re

import pygohcl
import pytest

from compiler.terraform import boundary, emit

from .support import EXAMPLES, environments


def texts(example: str) -> dict[str, str]:
    return {a.path: a.content for a in emit(environments(example))}


def resources(text: str, kind: str) -> dict[str, dict]:
    return pygohcl.loads(text).get("resource", {}).get(kind, {})


@pytest.mark.parametrize("example", EXAMPLES)
def test_the_boundary_covers_every_service_the_stack_declares(example: str) -> None:
    types = set()
    for path, text in texts(example).items():
        if "/bootstrap/" not in path:
            types |= set(re.findall(r'^(?:resource|data) "(aws_[a-z0-9_]+)"', text, re.M))
    assert types
    missing = sorted(t for t in types - boundary.NO_API_CALL if boundary.service_of(t) is None)
    assert missing == []


@pytest.mark.parametrize("example", EXAMPLES)
def test_every_role_the_stack_creates_carries_the_boundary(example: str) -> None:
    for spec in environments(example):
        found = 0
        for path, text in texts(example).items():
            if f"/{spec.environment}/terraform/" not in path:
                continue
            for label, body in resources(text, "aws_iam_role").items():
                expected = (
                    "arn:local.partition:iam::local.account_id:policy/"
                    f"{example}-{spec.environment}-deploy-boundary"
                )
                assert body["permissions_boundary"] == expected, (path, label)
                found += 1
        assert found


def bootstrap_files(example: str, name: str) -> list[str]:
    """The file `name` of every bootstrap of the example (one per account)."""
    found = texts(example)
    return [t for p, t in sorted(found.items()) if "/bootstrap/" in p and p.endswith(f"/{name}")]


def bootstrap_resources(example: str, kind: str) -> dict[str, dict]:
    merged: dict[str, dict] = {}
    for text in bootstrap_files(example, "github_oidc.tf"):
        merged |= resources(text, kind)
    return merged


def bootstrap_roles(example: str) -> dict[str, dict]:
    return bootstrap_resources(example, "aws_iam_role")


@pytest.mark.parametrize("example", EXAMPLES)
def test_only_apply_roles_are_bounded_by_their_own_environments_boundary(example: str) -> None:
    for label, body in bootstrap_roles(example).items():
        env, role = label.rsplit("_", 1)
        if role == "apply":
            assert body["permissions_boundary"] == f"aws_iam_policy.{env}_boundary.arn"
        else:
            assert "permissions_boundary" not in body


def statements(spec_env: str, example: str) -> list[dict]:
    body = bootstrap_resources(example, "aws_iam_policy")[f"{spec_env}_boundary"]
    policy = body["policy"]
    assert isinstance(policy, str) and "NewRolesCarryThisBoundary" in policy
    return [
        s
        for s in boundary.document(
            next(s for s in environments(example) if s.environment == spec_env)
        )["Statement"]  # type: ignore[union-attr]
    ]


def test_the_boundary_fences_iam() -> None:
    found = {s["Sid"]: s for s in statements("prod", "assistant")}
    new_roles = found["NewRolesCarryThisBoundary"]
    assert new_roles["Effect"] == "Deny"
    assert set(new_roles["Action"]) == {"iam:CreateRole", "iam:PutRolePermissionsBoundary"}
    assert "StringNotEquals" in new_roles["Condition"]
    assert "iam:DeleteRolePermissionsBoundary" in found["TheBoundaryStays"]["Action"]
    assert found["TheGitHubRolesAreTheBootstraps"]["NotAction"] == ["iam:Get*", "iam:List*"]
    assert "iam:CreateAccessKey" in found["NoLongLivedCredentials"]["Action"]
    allowed = found["OnlyTheStacksServices"]["Action"]
    assert "organizations:*" not in allowed and "*" not in allowed
    state = found["TheStateStoreIsTheBootstraps"]
    assert "s3:PutBucket*" in state["Action"] and "assistant-tfstate-" in state["Resource"].text
    assert "kms:PutKeyPolicy" in found["TheStateKeyIsTheBootstraps"]["Action"]
    # No hopping to roles that trust the account; no commands on the hosts.
    assert not any(a.startswith("sts:") for a in allowed)
    assert "ssm:*" not in allowed and "ssm:GetParameter" in allowed


def test_the_state_bucket_fences_each_environment_to_its_own_roles() -> None:
    text = "\n".join(bootstrap_files("assistant", "state.tf"))
    for env in ("staging", "prod"):
        sid = f"OnlyTheGitHubRolesOf{env.title()}"
        block = text[text.index(sid) :]
        block = block[: block.index("},\n      {") if "},\n      {" in block else len(block)]
        assert f"/assistant/{env}/*" in block
        assert f":role/assistant-{env}-github-*" in block  # ArnNotLike: its own roles
        assert ":role/assistant-*-github-*" in block  # ArnLike: every GitHub role


def test_boundary_policy_name_is_the_stacks_reference() -> None:
    staging = environments("assistant")[0]
    assert boundary.policy_name(staging) == "assistant-staging-deploy-boundary"
    assert boundary.arn(staging).text.endswith(":policy/assistant-staging-deploy-boundary")


def test_the_boundary_fits_the_managed_policy_size_limit() -> None:
    # IAM managed policies hold at most 6,144 characters (whitespace not counted).
    for example in EXAMPLES:
        for spec in environments(example):
            text = json.dumps(
                boundary.document(spec),
                default=lambda t: t.text.replace("${local.account_id}", "1" * 12),
                separators=(",", ":"),
            )
            assert len(text) < 6144, (example, spec.environment, len(text))


# AWS Backup's general role policies span every service it can back up (RDS, EFS, EKS, ...);
# the stacks back up only S3 buckets, whose permissions are the two S3 policies.
BEYOND_THE_STACK = frozenset(
    {
        "service-role/AWSBackupServiceRolePolicyForBackup",
        "service-role/AWSBackupServiceRolePolicyForRestores",
    }
)
SAMPLE_ACCOUNT = "111111111111"


def managed_policy(name: str) -> dict:
    """AWS's text of a managed policy, as moto ships it (moto copies AWS's published set)."""
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    return json.loads(aws_managed_policies_data)[name.rsplit("/", 1)[-1]]["Document"]


def attached_policies(example: str, environment: str) -> set[str]:
    found = set()
    for path, text in texts(example).items():
        if f"/{environment}/terraform/" in path:
            for body in resources(text, "aws_iam_role_policy_attachment").values():
                found.add(body["policy_arn"].split(":policy/", 1)[1])
    return found


def concrete(resource: str) -> str:
    """A resource a request under `resource` could name: wildcards filled in this account."""
    if resource == "*":
        return "*"
    parts = resource.split(":", 5)
    parts[3] = "eu-west-1" if parts[3] == "*" else parts[3]
    parts[4] = SAMPLE_ACCOUNT if parts[4] == "*" else parts[4]
    return ":".join(parts).replace("*", "x")


def as_list(value: object) -> list[str]:
    return [value] if isinstance(value, str) else list(value)  # type: ignore[call-overload]


def boundary_allows(document: dict, action: str, resource: str) -> bool:
    """IAM's verdict on one request under the boundary alone (conditional Denies, which fence
    IAM and the state key, never match these requests)."""

    def matches(statement: dict) -> bool:
        actions = as_list(statement.get("Action", []))
        return any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in actions) and any(
            r == "*" or fnmatch.fnmatchcase(resource, r) for r in as_list(statement["Resource"])
        )

    statements = document["Statement"]
    denied = any(s["Effect"] == "Deny" and "Condition" not in s and matches(s) for s in statements)
    return not denied and any(s["Effect"] == "Allow" and matches(s) for s in statements)


@pytest.mark.parametrize("example", EXAMPLES)
def test_the_boundary_keeps_what_the_managed_role_policies_grant(example: str) -> None:
    """A boundary caps a role to the intersection with its policies: a managed policy AWS
    says a role needs (AWS Backup for S3: AWSBackupServiceRolePolicyForS3Backup and
    ...ForS3Restore, https://docs.aws.amazon.com/aws-backup/latest/devguide/s3-backups.html)
    is only what the boundary leaves of it."""
    for spec in environments(example):
        rendered = json.dumps(boundary.document(spec), default=lambda t: t.text)
        rendered = rendered.replace("${local.partition}", "aws")
        document = json.loads(rendered.replace("${local.account_id}", SAMPLE_ACCOUNT))
        policies = attached_policies(example, spec.environment) - BEYOND_THE_STACK
        assert "AWSBackupServiceRolePolicyForS3Backup" in policies
        stripped = sorted(
            (name, action, resource)
            for name in policies
            for statement in managed_policy(name)["Statement"]
            if statement["Effect"] == "Allow"
            for action in as_list(statement["Action"])
            for resource in as_list(statement["Resource"])
            if not boundary_allows(document, action, concrete(resource))
        )
        assert stripped == [], spec.environment
