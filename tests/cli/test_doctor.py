"""`servespec doctor` against moto_server (AWS) and a canned GitHub API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from compiler import doctor
from compiler.model.s3 import client
from compiler.spec import ResolvedSpec, load_spec
from compiler.terraform.boundary import policy_name
from compiler.terraform.stack.common import state_bucket

ROOT = Path(__file__).resolve().parents[2]


def prod() -> ResolvedSpec:
    loaded = load_spec(ROOT / "spec" / "assistant.yaml", root=ROOT)
    return next(s for s in loaded.environments if s.environment == "prod")


TRUST = json.dumps({"Version": "2012-10-17", "Statement": []})


def bootstrap(endpoint: str, spec: ResolvedSpec) -> None:
    iam = client("iam", endpoint, spec.region)
    iam.create_open_id_connect_provider(
        Url=f"https://{doctor.GITHUB_OIDC}",
        ClientIDList=["sts.amazonaws.com"],
        ThumbprintList=["a" * 40],
    )
    for role in ("plan", "apply"):
        iam.create_role(RoleName=f"assistant-prod-github-{role}", AssumeRolePolicyDocument=TRUST)
    boundary = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "ecs:*", "Resource": "*"}],
    }
    iam.create_policy(PolicyName=policy_name(spec), PolicyDocument=json.dumps(boundary))
    client("s3", endpoint, spec.region).create_bucket(
        Bucket=state_bucket(spec), CreateBucketConfiguration={"LocationConstraint": spec.region}
    )


def github(variables: bool, reviewers: bool) -> doctor.GitHub:
    def get(path: str) -> Any:
        if "/actions/variables/" in path:
            return {"value": "arn:aws:iam::1:role/x"} if variables else None
        if path.endswith("/oidc/customization/sub"):
            keys = ["repo", "context", "job_workflow_ref"]
            return {"use_default": False, "include_claim_keys": keys} if variables else None
        if path.endswith("/environments/prod"):
            rules = [{"type": "required_reviewers"}] if reviewers else [{"type": "branch_policy"}]
            return {"protection_rules": rules}
        return None

    return get


def names(checks: list[doctor.Check], ok: bool | None) -> list[str]:
    return [c.name for c in checks if c.ok is ok]


def test_nothing_applied_points_at_the_bootstrap(aws_reset: str) -> None:
    checks = doctor.run_checks(prod(), aws_reset, github(False, False))
    assert "state bucket" in names(checks, False)
    text, code = doctor.report(checks)
    assert code == 1
    # prod deploys to its own account: its bootstrap is that account's.
    assert "next: the two-step first apply of generated/assistant/bootstrap/222222222222" in text
    assert "init -migrate-state" in text


def test_missing_reviewers_are_a_failure_with_the_github_root_as_fix(aws_reset: str) -> None:
    spec = prod()
    bootstrap(aws_reset, spec)
    checks = doctor.run_checks(spec, aws_reset, github(True, False))
    assert names(checks, False) == ["required reviewers"]
    text, code = doctor.report(checks)
    assert code == 1 and "generated/assistant/github apply" in text


def test_ready_for_a_first_deploy(aws_reset: str) -> None:
    spec = prod()
    bootstrap(aws_reset, spec)
    checks = doctor.run_checks(spec, aws_reset, github(True, True))
    assert names(checks, False) == []
    # The model and the key come with the first deploy: to do, not failures.
    assert names(checks, None)[-2:] == ["model in S3", "API key"]
    text, code = doctor.report(checks)
    assert code == 0
    assert "next: gh workflow run servespec-assistant-deploy.yml --ref main" in text


def test_after_the_first_deploy_everything_is_in_place(aws_reset: str) -> None:
    spec = prod()
    bootstrap(aws_reset, spec)
    s3 = client("s3", aws_reset, spec.region)
    bucket = "assistant-prod-models-123456789012"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": spec.region})
    s3.put_object(
        Bucket=bucket,
        Key=f"models/{spec.model.name}/{spec.model.version}/manifest.json",
        Body=b"{}",
    )
    secrets = client("secretsmanager", aws_reset, spec.region)
    secrets.create_secret(Name="assistant-prod/api-keys", SecretString="sk-1")
    checks = doctor.run_checks(spec, aws_reset, github(True, True))
    assert names(checks, False) == []
    assert [c.name for c in checks if c.ok is None and c.fix] == []


@pytest.mark.parametrize(("zone", "ok"), [("example.com.", True), ("other.org.", False)])
def test_the_hosted_zone_must_serve_the_domain(aws_reset: str, zone: str, ok: bool) -> None:
    spec = prod()
    created = client("route53", aws_reset, spec.region).create_hosted_zone(
        Name=zone, CallerReference=zone
    )
    zone_id = created["HostedZone"]["Id"].rsplit("/", 1)[-1]
    tls = spec.security.tls.model_copy(
        update={"domain": "api.example.com", "hosted_zone_id": zone_id}
    )
    security = spec.security.model_copy(update={"tls": tls})
    spec = spec.model_copy(update={"security": security})
    assert [c.ok for c in doctor.dns_checks(spec, aws_reset)] == [ok]
