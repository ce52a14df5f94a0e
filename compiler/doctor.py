"""`servespec doctor SPEC --env ENV`: is everything a deploy needs in place, and what is next?

Day 0 fails in the gaps between tools: a bootstrap never applied, a repository variable never
set, an environment without its reviewers, a hosted zone that does not answer for the
domain. Each check reads the real thing (AWS through boto3 with an injectable endpoint,
GitHub through the `gh` CLI) and the first failing one prints the command that fixes it.
Checks that only hold after the first deploy (API key, model) say so instead of failing it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import click
from botocore.exceptions import BotoCoreError, ClientError

from compiler.model.naming import model_prefix, models_bucket_name
from compiler.model.s3 import client
from compiler.spec import ResolvedSpec, SpecError, load_spec
from compiler.terraform import bootstrap_dir
from compiler.terraform.boundary import policy_name
from compiler.terraform.stack.common import state_bucket
from compiler.workflows.names import role_variable, workflow_path

GITHUB_OIDC = "token.actions.githubusercontent.com"
EXIT_OK, EXIT_MISSING, EXIT_INVALID = 0, 1, 2


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool | None  # None: not expected yet (before the first deploy)
    detail: str
    fix: str = ""


GitHub = Callable[[str], Any]


def gh_api(path: str) -> Any:
    """GET a GitHub API path with the `gh` CLI; None when it is not there (404 or no access)."""
    done = subprocess.run(["gh", "api", path], capture_output=True, text=True, check=False)
    return json.loads(done.stdout) if done.returncode == 0 and done.stdout else None


def _aws(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except (ClientError, BotoCoreError):
        return None


def bootstrap_checks(spec: ResolvedSpec, endpoint: str | None) -> list[Check]:
    name, env = spec.metadata.name, spec.environment
    folder = bootstrap_dir(spec)
    # The first apply has no bucket to keep its state in yet: docs/day-0.md step 2.
    apply_bootstrap = (
        f"the two-step first apply of {folder} (docs/day-0.md, step 2: local state, "
        "then terraform init -migrate-state)"
    )
    iam = client("iam", endpoint, spec.region)
    s3 = client("s3", endpoint, spec.region)
    bucket = state_bucket(spec)
    providers = _aws(iam.list_open_id_connect_providers) or {"OpenIDConnectProviderList": []}
    oidc = any(GITHUB_OIDC in p["Arn"] for p in providers["OpenIDConnectProviderList"])
    found = [
        Check("state bucket", _aws(lambda: s3.head_bucket(Bucket=bucket)) is not None, bucket),
        Check("GitHub OIDC provider", oidc, GITHUB_OIDC),
    ]
    for role in ("plan", "apply"):
        role_name = f"{name}-{env}-github-{role}"
        exists = _aws(partial(iam.get_role, RoleName=role_name)) is not None
        found.append(Check(f"{role} role", exists, role_name))
    account = _aws(lambda: client("sts", endpoint, spec.region).get_caller_identity()) or {}
    boundary_arn = f"arn:aws:iam::{account.get('Account', '?')}:policy/{policy_name(spec)}"
    boundary = _aws(lambda: iam.get_policy(PolicyArn=boundary_arn)) is not None
    found.append(Check("permissions boundary", boundary, policy_name(spec)))
    return [c if c.ok else Check(c.name, c.ok, c.detail, apply_bootstrap) for c in found]


def github_checks(spec: ResolvedSpec, github: GitHub) -> list[Check]:
    repo = spec.metadata.repository
    apply_github = f"GITHUB_TOKEN=… terraform -chdir=generated/{spec.metadata.name}/github apply"
    found = []
    for role in ("PLAN", "APPLY"):
        variable = role_variable(spec, role)
        value = github(f"repos/{repo}/actions/variables/{variable}")
        found.append(
            Check(
                f"repository variable {variable}",
                value is not None,
                value["value"] if value else "not set",
                f"gh variable set {variable} --repo {repo} --body <bootstrap output "
                f"{spec.environment}_{role.lower()}_role_arn>",
            )
        )
    template = github(f"repos/{repo}/actions/oidc/customization/sub") or {}
    keys = template.get("include_claim_keys") or []
    found.append(
        Check(
            "OIDC subject names the workflow",
            template.get("use_default") is False and "job_workflow_ref" in keys,
            ", ".join(keys) or "GitHub's default subject: the apply roles will refuse every job",
            apply_github,
        )
    )
    environment = github(f"repos/{repo}/environments/{spec.environment}")
    found.append(
        Check(f"GitHub environment {spec.environment}", environment is not None, "", apply_github)
    )
    if spec.deployment.approval == "required":
        rules = (environment or {}).get("protection_rules", [])
        reviewers = any(rule.get("type") == "required_reviewers" for rule in rules)
        found.append(
            Check(
                "required reviewers",
                reviewers,
                "deployment.approval: required",
                apply_github + " (private repositories need a GitHub plan with reviewers)",
            )
        )
    return found


def dns_checks(spec: ResolvedSpec, endpoint: str | None) -> list[Check]:
    domain, zone_id = spec.security.tls.domain, spec.security.tls.hosted_zone_id
    if zone_id is None:
        return [
            Check(
                "DNS",
                None,
                f"no hosted zone: validate the certificate for {domain} by hand "
                "(ACM shows the CNAME after the first apply)",
            )
        ]
    zone = _aws(lambda: client("route53", endpoint, spec.region).get_hosted_zone(Id=zone_id))
    zone_name = zone["HostedZone"]["Name"].rstrip(".") if zone else ""
    serves = bool(zone) and (domain == zone_name or domain.endswith(f".{zone_name}"))
    return [
        Check(
            "hosted zone",
            serves,
            f"{zone_id} ({zone_name or 'not found'}) for {domain}",
            "set security.tls.hosted_zone_id to the Route 53 zone that serves the domain",
        )
    ]


def release_checks(spec: ResolvedSpec, endpoint: str | None) -> list[Check]:
    """After the first deploy only: the API key secret and the model in S3."""
    name, env = spec.metadata.name, spec.environment
    account = _aws(lambda: client("sts", endpoint, spec.region).get_caller_identity()) or {}
    bucket = models_bucket_name(name, env, account.get("Account", "?"))
    key = model_prefix(spec.model.name, spec.model.version) + "manifest.json"
    s3 = client("s3", endpoint, spec.region)
    model = _aws(lambda: s3.head_object(Bucket=bucket, Key=key)) is not None
    deploy = f"gh workflow run {workflow_path(name, 'deploy').rsplit('/', 1)[1]} --ref main"
    found = [Check("model in S3", model or None, f"s3://{bucket}/{key}", deploy)]
    if spec.serving.auth == "api_key":
        secrets = client("secretsmanager", endpoint, spec.region)
        secret = _aws(lambda: secrets.get_secret_value(SecretId=f"{name}-{env}/api-keys"))
        has_key = bool(secret and secret.get("SecretString", "").strip())
        found.append(
            Check(
                "API key",
                has_key or None,
                f"{name}-{env}/api-keys",
                f"servespec keys ensure {spec.source_path} --env {env}",
            )
        )
    return found


def run_checks(spec: ResolvedSpec, endpoint: str | None, github: GitHub) -> list[Check]:
    return [
        *bootstrap_checks(spec, endpoint),
        *github_checks(spec, github),
        *dns_checks(spec, endpoint),
        *release_checks(spec, endpoint),
    ]


def report(checks: list[Check]) -> tuple[str, int]:
    marks = {True: "ok  ", False: "FAIL", None: "todo"}
    lines = [f"{marks[c.ok]} {c.name}" + (f": {c.detail}" if c.detail else "") for c in checks]
    failed = [c for c in checks if c.ok is False]
    pending = [c for c in checks if c.ok is None and c.fix]
    if failed:
        lines += ["", f"next: {failed[0].fix}"]
    elif pending:
        lines += ["", f"next: {pending[0].fix}"]
    else:
        lines += ["", "everything a deploy needs is in place"]
    return "\n".join(lines) + "\n", EXIT_MISSING if failed else EXIT_OK


@click.command("doctor")
@click.argument("spec", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--env", "env", required=True)
@click.option("--endpoint-url", default=None, help="AWS endpoint (tests: moto_server).")
def doctor(spec: Path, env: str, endpoint_url: str | None) -> None:
    """Check what a deploy of ENV needs (bootstrap, GitHub, DNS, key, model); say what is next."""
    try:
        loaded = load_spec(spec)
    except SpecError as exc:
        click.echo(exc.render(), err=True)
        sys.exit(EXIT_INVALID)
    chosen = [s for s in loaded.environments if s.environment == env]
    if not chosen:
        click.echo(f"{spec}: no environment {env!r} (has {', '.join(loaded.layers)})", err=True)
        sys.exit(EXIT_INVALID)
    text, code = report(run_checks(chosen[0], endpoint_url, gh_api))
    click.echo(text, nl=False)
    sys.exit(code)
