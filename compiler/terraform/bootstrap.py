"""The one-time bootstrap root of a deployment: where state lives and who may change it.

It creates the state bucket and key every environment's S3 backend names, and two roles per
environment, trusted through the account's GitHub OIDC provider (the account root creates
it). `plan` (read-only) trusts the PR, drift and deploy workflow files by
`job_workflow_ref`; `apply` trusts only the deploy workflow as it is on main, in a job that
names the environment (reviewers and a main-only branch policy are set by the GitHub root,
`github.py`), and carries a permissions boundary (`boundary.py`). The state bucket fences
each environment's state to its own GitHub roles.
"""

from __future__ import annotations

from compiler.spec import ResolvedSpec
from compiler.terraform import bootstrap_state as state
from compiler.terraform import boundary
from compiler.terraform.hcl import (
    Block,
    Ref,
    Template,
    Value,
    data,
    jsonencode,
    resource,
)
from compiler.terraform.stack import common, contract, root
from compiler.workflows.names import workflow_path

GITHUB_OIDC = "token.actions.githubusercontent.com"


def files(envs: tuple[ResolvedSpec, ...]) -> dict[str, list[Block]]:
    first = envs[0]
    return {
        "versions.tf": [root.terraform_block(first, state_key(first))],
        "providers.tf": [
            Block(
                "provider",
                ("aws",),
                [
                    {"region": first.region},
                    # Applied in the environments' own account, never by mistake in another.
                    *([{"allowed_account_ids": [first.account.id]}] if first.account else []),
                    Block("default_tags", (), {"tags": _tags(first)}),
                ],
            ),
            Block("locals", (), _locals(first)),
            data("aws_caller_identity", "current"),
            data("aws_partition", "current"),
        ],
        "policy.tf": contract.bootstrap_blocks(envs),
        "state.tf": state.blocks(envs),
        "github_oidc.tf": _github(envs),
        "outputs.tf": _outputs(envs),
    }


def state_key(spec: ResolvedSpec) -> str:
    """The bootstrap's own state lives in the bucket it creates, under a prefix no
    environment's fence covers. The first apply of an account runs with a local backend
    (`backend_override.tf`); `terraform init -migrate-state` then moves it here (day-0.md)."""
    account = spec.account.id if spec.account else "account"
    return f"{spec.metadata.name}/bootstrap/{account}.tfstate"


def _tags(spec: ResolvedSpec) -> dict[str, Value]:
    tags = root.default_tags(spec)
    tags["environment"] = "bootstrap"
    return tags


def _locals(spec: ResolvedSpec) -> dict[str, Value]:
    return {
        "name": spec.metadata.name,
        "account_id": Ref("data.aws_caller_identity.current.account_id"),
        "partition": Ref("data.aws_partition.current.partition"),
        "state_bucket": common.state_bucket(spec),
        "state_logs_bucket": f"{common.state_bucket(spec)}-logs",
        "repository": spec.metadata.repository,
    }


def _workflow_ref(spec: ResolvedSpec, kind: str, ref: str) -> str:
    repo = spec.metadata.repository
    return f"job_workflow_ref:{repo}/{workflow_path(spec.metadata.name, kind)}@{ref}"


def _subjects(spec: ResolvedSpec, role: str) -> list[str]:
    """OIDC subjects in the repository's customized format (`github.py` sets it to repo,
    context, job_workflow_ref): each names the generated workflow file that runs the job."""
    repo = f"repo:{spec.metadata.repository}"
    main = "refs/heads/main"
    if role == "plan":
        # Read-only: pull requests plan with the PR workflow; drift and the deploy's plan
        # jobs run from main. A PR may edit its own workflow, so this role reads, never writes.
        return [
            f"{repo}:pull_request:{_workflow_ref(spec, 'pr', 'refs/pull/*/merge')}",
            f"{repo}:ref:{main}:{_workflow_ref(spec, 'drift', main)}",
            f"{repo}:ref:{main}:{_workflow_ref(spec, 'deploy', main)}",
        ]
    # Only the reviewed deploy workflow as it is on main, in a job that names the protected
    # environment (whose reviewers and main-only branch policy github.py manages).
    return [f"{repo}:environment:{spec.environment}:{_workflow_ref(spec, 'deploy', main)}"]


def _trust(spec: ResolvedSpec, role: str) -> dict[str, Value]:
    return common.policy(
        {
            "Sid": "GitHubActionsOfTheRepository",
            "Effect": "Allow",
            "Principal": {"Federated": Ref("data.aws_iam_openid_connect_provider.github.arn")},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {
                    f"{GITHUB_OIDC}:aud": "sts.amazonaws.com",
                },
                # StringLike: the PR subject holds `refs/pull/*/merge`.
                "StringLike": {f"{GITHUB_OIDC}:sub": _subjects(spec, role)},
            },
        }
    )


def _state_access(spec: ResolvedSpec, role: str) -> dict[str, Value]:
    bucket = state.bucket_arn("state_bucket")
    prefix = f"{spec.metadata.name}/{spec.environment}/"
    write = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    statements = [
        common.statement(
            "ListTheEnvironmentsState",
            ["s3:ListBucket"],
            Template(bucket),
            {"StringLike": {"s3:prefix": [f"{prefix}*"]}},
        ),
        common.statement(
            "ReadTheEnvironmentsState", ["s3:GetObject"], Template(f"{bucket}/{prefix}*")
        ),
        # Plans take the state lock too (use_lockfile writes <key>.tflock).
        common.statement(
            "LockTheEnvironmentsState",
            write if role == "apply" else ["s3:PutObject", "s3:DeleteObject"],
            Template(f"{bucket}/{prefix}terraform.tfstate{'' if role == 'apply' else '.tflock'}*"),
        ),
        *(_bootstrap_state_access(spec) if role == "plan" else []),
        common.statement(
            "UseTheStateKey",
            ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
            Template(f"arn:{common.PARTITION}:kms:{spec.region}:{common.ACCOUNT}:key/*"),
            {"ForAnyValue:StringEquals": {"kms:ResourceAliases": common.state_key_alias(spec)}},
        ),
    ]
    return common.policy(*statements)


def _bootstrap_state_access(spec: ResolvedSpec) -> list[dict[str, Value]]:
    """The PR and drift workflows plan the account's bootstrap with a plan role: read its
    state, and take its lockfile (drift skips while an administrator's apply holds it)."""
    key = f"{state.bucket_arn('state_bucket')}/{state_key(spec)}"
    return [
        common.statement("ReadTheBootstrapState", ["s3:GetObject"], Template(key)),
        common.statement(
            "LockTheBootstrapState", ["s3:PutObject", "s3:DeleteObject"], Template(f"{key}.tflock")
        ),
    ]


def _deployer_iam(spec: ResolvedSpec) -> dict[str, Value]:
    """IAM for the apply role, limited to the deployment's own roles and profiles."""
    prefix = f"{spec.metadata.name}-{spec.environment}-*"
    iam = f"arn:{common.PARTITION}:iam::{common.ACCOUNT}"
    return common.policy(
        common.statement(
            "ManageTheDeploymentsRoles",
            [
                "iam:AttachRolePolicy",
                "iam:CreateInstanceProfile",
                "iam:DeleteInstanceProfile",
                "iam:DeleteRole",
                "iam:DeleteRolePolicy",
                "iam:DetachRolePolicy",
                "iam:GetInstanceProfile",
                "iam:GetRole",
                "iam:GetRolePolicy",
                "iam:ListAttachedRolePolicies",
                "iam:ListInstanceProfilesForRole",
                "iam:ListRolePolicies",
                "iam:PassRole",
                "iam:PutRolePolicy",
                "iam:AddRoleToInstanceProfile",
                "iam:RemoveRoleFromInstanceProfile",
                "iam:TagRole",
                "iam:UntagRole",
                "iam:TagInstanceProfile",
                "iam:UpdateAssumeRolePolicy",
            ],
            [Template(f"{iam}:role/{prefix}"), Template(f"{iam}:instance-profile/{prefix}")],
        ),
        common.statement(
            "NewRolesOnlyWithTheBoundary",
            ["iam:CreateRole", "iam:PutRolePermissionsBoundary"],
            Template(f"{iam}:role/{prefix}"),
            {"StringEquals": {"iam:PermissionsBoundary": boundary.arn(spec)}},
        ),
        common.statement(
            "CreateServiceLinkedRoles",
            ["iam:CreateServiceLinkedRole"],
            Template(f"{iam}:role/aws-service-role/*"),
        ),
    )


def _role(spec: ResolvedSpec, role: str) -> list[Block]:
    label = f"{spec.environment}_{role}"
    managed = "ReadOnlyAccess" if role == "plan" else "PowerUserAccess"
    found = [
        resource(
            "aws_iam_role",
            label,
            {
                "name": Template(f"${{local.name}}-{spec.environment}-github-{role}"),
                "description": (
                    f"GitHub Actions: terraform plan of {spec.environment} from pull requests"
                    if role == "plan"
                    else f"GitHub Actions: terraform apply of {spec.environment} from main"
                ),
                "max_session_duration": 3600,
                "assume_role_policy": jsonencode(_trust(spec, role)),
                **(
                    {"permissions_boundary": Ref(f"aws_iam_policy.{spec.environment}_boundary.arn")}
                    if role == "apply"
                    else {}
                ),
            },
        ),
        resource(
            "aws_iam_role_policy_attachment",
            label,
            {
                "role": Ref(f"aws_iam_role.{label}.name"),
                "policy_arn": Template(f"arn:{common.PARTITION}:iam::aws:policy/{managed}"),
            },
        ),
        resource(
            "aws_iam_role_policy",
            f"{label}_state",
            {
                "name": "terraform-state",
                "role": Ref(f"aws_iam_role.{label}.id"),
                "policy": jsonencode(_state_access(spec, role)),
            },
        ),
    ]
    if role == "apply":
        found.append(boundary.policy_block(spec))
        found.append(
            resource(
                "aws_iam_role_policy",
                f"{label}_iam",
                {
                    "name": "deployment-roles",
                    "role": Ref(f"aws_iam_role.{label}.id"),
                    "policy": jsonencode(_deployer_iam(spec)),
                },
            )
        )
    return found


def _github(envs: tuple[ResolvedSpec, ...]) -> list[Block]:
    # One provider per account (IAM refuses a second for the same URL): the account root
    # (generated/accounts/<id>/) creates it; each deployment's bootstrap only reads it.
    found = [data("aws_iam_openid_connect_provider", "github", {"url": f"https://{GITHUB_OIDC}"})]
    for spec in envs:
        found += [*_role(spec, "plan"), *_role(spec, "apply")]
    return found


def _outputs(envs: tuple[ResolvedSpec, ...]) -> list[Block]:
    found = [
        Block(
            "output",
            ("state_bucket",),
            {"description": "S3 backend bucket", "value": Ref("aws_s3_bucket.state.id")},
        )
    ]
    for spec in envs:
        for role in ("plan", "apply"):
            found.append(
                Block(
                    "output",
                    (f"{spec.environment}_{role}_role_arn",),
                    {
                        "description": f"Repository variable for the {spec.environment} {role} job",
                        "value": Ref(f"aws_iam_role.{spec.environment}_{role}.arn"),
                    },
                )
            )
    return found
