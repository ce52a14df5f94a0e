"""The GitHub side of a deployment, as its own Terraform root (`generated/<name>/github/`).

What the AWS trust policies rely on has to exist on GitHub, or "only reviewed code on main
deploys" holds nowhere: the OIDC subject must name the workflow file (`job_workflow_ref`),
main must take changes only through reviewed pull requests whose required check (the policy
gate included) passed, and each environment must admit only main, with reviewers where the
spec asks for approval. The `integrations/github` provider manages all of it; the state lives
in the bootstrap's bucket. Applied by a repository administrator (a GitHub token in
`GITHUB_TOKEN`), planned on pull requests like every other root.
"""

from __future__ import annotations

import json
import re

from compiler.artifacts import Artifact
from compiler.spec import ResolvedSpec
from compiler.terraform import header
from compiler.terraform.hcl import Block, Ref, Value, data, render, resource
from compiler.terraform.stack import common, root
from compiler.workflows.names import required_check_name, role_variable

GITHUB_PROVIDER = "~> 6.6"
# The subject every job's OIDC token carries: repository, context (environment, ref or
# pull_request) and the workflow file with its ref, e.g.
# repo:acme/llm:environment:prod:job_workflow_ref:acme/llm/.github/workflows/x.yml@refs/heads/main
SUBJECT_CLAIMS = ("repo", "context", "job_workflow_ref")
MAIN = "refs/heads/main"


def _label(handle: str) -> str:
    return re.sub(r"[^a-z0-9_]", "_", handle.lstrip("@").lower())


def _versions(spec: ResolvedSpec) -> Block:
    return Block(
        "terraform",
        (),
        [
            {"required_version": root.REQUIRED_VERSION},
            Block(
                "required_providers",
                (),
                {"github": {"source": "integrations/github", "version": GITHUB_PROVIDER}},
            ),
            Block(
                "backend",
                ("s3",),
                {
                    "bucket": common.state_bucket(spec),
                    "key": f"{spec.metadata.name}/github/terraform.tfstate",
                    "region": spec.region,
                    "encrypt": True,
                    "kms_key_id": common.state_key_alias(spec),
                    "use_lockfile": True,
                },
            ),
        ],
    )


def _providers(spec: ResolvedSpec) -> list[Block]:
    owner, _, name = spec.metadata.repository.partition("/")
    return [
        Block("provider", ("github",), {"owner": owner}),
        Block("locals", (), {"repository": name}),
    ]


def _oidc() -> Block:
    return resource(
        "github_actions_repository_oidc_subject_claim_customization_template",
        "subject",
        {
            "repository": Ref("local.repository"),
            "use_default": False,
            "include_claim_keys": list(SUBJECT_CLAIMS),
        },
    )


def _ruleset(spec: ResolvedSpec) -> Block:
    review = spec.metadata.review
    rules = Block(
        "rules",
        (),
        [
            {"deletion": True, "non_fast_forward": True},
            Block(
                "pull_request",
                (),
                {
                    "required_approving_review_count": review.required_approvals,
                    "require_code_owner_review": True,
                    "dismiss_stale_reviews_on_push": True,
                    "require_last_push_approval": True,
                    "required_review_thread_resolution": True,
                },
            ),
            Block(
                "required_status_checks",
                (),
                [
                    {"strict_required_status_checks_policy": True},
                    Block("required_check", (), {"context": required_check_name(spec)}),
                ],
            ),
        ],
    )
    return resource(
        "github_repository_ruleset",
        "main",
        [
            {
                "name": f"servespec-{spec.metadata.name}-main",
                "repository": Ref("local.repository"),
                "target": "branch",
                "enforcement": "active",
            },
            Block("conditions", (), [Block("ref_name", (), {"include": [MAIN], "exclude": []})]),
            rules,
        ],
    )


def _reviewer_data(envs: tuple[ResolvedSpec, ...]) -> list[Block]:
    found = []
    for handle in envs[0].metadata.review.deployers:
        _, _, team = handle.partition("/")
        if team:
            found.append(data("github_team", _label(handle), {"slug": team}))
        else:
            found.append(data("github_user", _label(handle), {"username": handle.lstrip("@")}))
    return found


def _reviewers(spec: ResolvedSpec) -> list[Block]:
    handles = spec.metadata.review.deployers
    if spec.deployment.approval != "required" or not handles:
        return []
    teams = [Ref(f"data.github_team.{_label(h)}.id") for h in handles if "/" in h]
    users = [Ref(f"data.github_user.{_label(h)}.id") for h in handles if "/" not in h]
    body: dict[str, Value] = {}
    if teams:
        body["teams"] = teams
    if users:
        body["users"] = users
    return [Block("reviewers", (), body)]


def _environment(spec: ResolvedSpec) -> list[Block]:
    env = spec.environment
    return [
        resource(
            "github_repository_environment",
            env,
            [
                {
                    "repository": Ref("local.repository"),
                    "environment": env,
                    "prevent_self_review": True,
                    "can_admins_bypass": False,
                },
                *_reviewers(spec),
                Block(
                    "deployment_branch_policy",
                    (),
                    {"protected_branches": False, "custom_branch_policies": True},
                ),
            ],
        ),
        resource(
            "github_repository_environment_deployment_policy",
            f"{env}_main",
            {
                "repository": Ref("local.repository"),
                "environment": Ref(f"github_repository_environment.{env}.environment"),
                "branch_pattern": "main",
            },
        ),
    ]


def _account_id(spec: ResolvedSpec) -> str | None:
    """`account.id` of the environment (None: the spec does not name its account)."""
    return spec.account.id if spec.account else None


def _variables(spec: ResolvedSpec) -> list[Block]:
    """The role ARNs the workflows read, known in advance when the spec names the account."""
    account_id = _account_id(spec)
    if account_id is None:
        return []
    found = []
    for role in ("plan", "apply"):
        arn = (
            f"arn:aws:iam::{account_id}:role/{spec.metadata.name}-{spec.environment}-github-{role}"
        )
        found.append(
            resource(
                "github_actions_variable",
                f"{spec.environment}_{role}_role",
                {
                    "repository": Ref("local.repository"),
                    "variable_name": role_variable(spec, role.upper()),
                    "value": arn,
                },
            )
        )
    return found


def files(envs: tuple[ResolvedSpec, ...]) -> dict[str, list[Block]]:
    first = envs[0]
    return {
        "versions.tf": [_versions(first)],
        "providers.tf": _providers(first),
        "repository.tf": [_oidc(), _ruleset(first), *_reviewer_data(envs)],
        "environments.tf": [block for spec in envs for block in _environment(spec)],
        "variables.tf": [block for spec in envs for block in _variables(spec)],
    }


def github_dir(spec: ResolvedSpec) -> str:
    return f"generated/{spec.metadata.name}/github"


def waivers(spec: ResolvedSpec) -> str:
    """The spec's waivers as a file of their own, which CODEOWNERS gives to the security
    owners: a pull request that adds or extends a waiver cannot merge without them."""
    rows = [
        {
            "check": w.check,
            "resource": w.resource,
            "owner": w.owner,
            "reason": w.reason,
            "expires": str(w.expires),
        }
        for w in spec.security.waivers
    ]
    document = {
        "generated_by": __name__,
        "source": spec.source_path,
        "deployment": spec.metadata.name,
        "waivers": rows,
    }
    return json.dumps(document, indent=2) + "\n"


def emit(envs: tuple[ResolvedSpec, ...]) -> list[Artifact]:
    """The GitHub root and the waiver file of one deployment."""
    first = envs[0]
    found = [
        Artifact(f"{github_dir(first)}/{name}", render(blocks, header=header(first, __name__)))
        for name, blocks in files(envs).items()
        if blocks
    ]
    found.append(Artifact(f"{github_dir(first)}/waivers.json", waivers(first)))
    return found
