"""Names the generated workflows share with people and with the Terraform emitter.

Kept in one module so that a repository variable, a concurrency group or a generated path is
spelled the same in every workflow and in the documentation.
"""

from __future__ import annotations

import hashlib

from compiler.spec import ResolvedSpec

PYTHON_VERSION = "3.11"
RUNNER = "ubuntu-24.04"
# Latest stable release (tag v1.15.9 in hashicorp/terraform, 2026-08-19) within the
# emitter's `required_version` (>= 1.10, < 2); every job installs exactly this one.
TERRAFORM_VERSION = "1.15.9"
# Rendered from every spec at once: the account roots and the repository's CODEOWNERS.
ACCOUNTS_DIR = "generated/accounts"
CODEOWNERS_PATH = ".github/CODEOWNERS"


def workflow_path(deployment: str, kind: str) -> str:
    return f".github/workflows/servespec-{deployment}-{kind}.yml"


def terraform_dir(spec: ResolvedSpec) -> str:
    return f"generated/{spec.metadata.name}/{spec.environment}/terraform"


def bootstrap_dir(spec: ResolvedSpec) -> str:
    """One bootstrap per AWS account: its roles must live in the account they deploy to
    (environment providers pin `allowed_account_ids`), and its state stays there too."""
    base = f"generated/{spec.metadata.name}/bootstrap"
    return f"{base}/{spec.account.id}" if spec.account else base


def bootstrap_key(spec: ResolvedSpec) -> str:
    """`bootstrap-<account-id>`: names the jobs, summary and drift issue of an account's
    bootstrap root next to those of the environments."""
    return f"bootstrap-{spec.account.id}" if spec.account else "bootstrap"


def bootstrap_lock(spec: ResolvedSpec) -> str:
    """The concurrency group of the jobs that plan an account's bootstrap (the S3 lockfile
    is the lock it shares with an administrator's apply)."""
    return f"servespec-{spec.metadata.name}-{bootstrap_key(spec)}"


def dockerfile(deployment: str) -> str:
    return f"generated/{deployment}/image/Dockerfile"


def upper(text: str) -> str:
    return text.upper().replace("-", "_")


def role_variable(spec: ResolvedSpec, role: str) -> str:
    """Repository variable holding a role ARN, e.g. SERVESPEC_ASSISTANT_PROD_PLAN_ROLE_ARN.

    ARNs are not secrets, and variables (unlike secrets) show up in the run log, so a wrong
    role is easy to spot.
    """
    return f"SERVESPEC_{upper(spec.metadata.name)}_{upper(spec.environment)}_{role}_ROLE_ARN"


def concurrency_group(spec: ResolvedSpec, purpose: str) -> str:
    return f"servespec-{spec.metadata.name}-{spec.environment}-{purpose}"


def environment_lock(spec: ResolvedSpec) -> str:
    """The one concurrency group per environment that every job touching its stack joins
    (deploy plan, apply, drift): none of them runs while another holds the environment."""
    return f"servespec-{spec.metadata.name}-{spec.environment}"


def required_check_name(spec: ResolvedSpec) -> str:
    """The PR workflow's always-running job; the ruleset on main requires this check."""
    return f"servespec-{spec.metadata.name}: required"


def job_id(prefix: str, environment: str) -> str:
    return f"{prefix}-{environment}"


def drift_cron(deployment: str) -> str:
    """A daily schedule whose minute is derived from the name: deployments do not all plan
    at the same instant (and GitHub delays jobs queued at the top of the hour)."""
    minute = int(hashlib.sha256(deployment.encode()).hexdigest(), 16) % 60
    return f"{minute} 5 * * *"


def spec_paths(spec: ResolvedSpec) -> list[str]:
    """Paths whose change can alter what this deployment plans or ships, or that only the PR's
    `servespec compile --check` keeps honest: the account roots (the GitHub OIDC provider
    every role trusts; this deployment's plans read them) and CODEOWNERS are rendered from
    every spec, so a hand edit to them alone must not skip the check."""
    name = spec.metadata.name
    return [
        spec.source_path,
        f"generated/{name}/**",
        f"{ACCOUNTS_DIR}/**",
        CODEOWNERS_PATH,
        "policies/**",
        "runtime/**",
        "compiler/**",
        "constraints.txt",
        "pyproject.toml",
        f".github/workflows/servespec-{name}-*.yml",
    ]


def shipped_paths(spec: ResolvedSpec) -> list[str]:
    """Paths whose change alters what a deploy ships: generated/ already reflects compiler
    and policy changes, so those alone do not redeploy."""
    name = spec.metadata.name
    return [
        spec.source_path,
        f"generated/{name}/**",
        "runtime/**",
        "constraints.txt",
        workflow_path(name, "deploy"),
    ]
