"""The GitHub root (rulesets, environments, OIDC subject) and CODEOWNERS, on the examples."""

from __future__ import annotations

import fnmatch
import json
import shutil
from pathlib import Path

import pygohcl
import pytest
from click.testing import CliRunner

from compiler import codeowners
from compiler.cli import cli
from compiler.spec import load_spec
from compiler.terraform import github
from compiler.terraform.hcl import render
from compiler.workflows.pr import MIGRATION_LABEL as MIGRATION

from .helpers import EXAMPLES, ROOT, environments, with_value, workflows


def root(envs: tuple) -> dict[str, dict]:  # type: ignore[type-arg]
    found: dict[str, dict] = {}  # type: ignore[type-arg]
    for artifact in github.emit(envs):
        if artifact.path.endswith(".tf"):
            for kind, blocks in pygohcl.loads(artifact.content).items():
                if kind in ("resource", "data"):
                    for type_, named in blocks.items():
                        for label, body in named.items():
                            found[f"{kind}.{type_}.{label}"] = body
    return found


@pytest.mark.parametrize("name", EXAMPLES)
def test_ruleset_requires_review_the_required_check_and_no_force_push(name: str) -> None:
    envs = environments(name)
    ruleset = root(envs)["resource.github_repository_ruleset.main"]
    assert ruleset["enforcement"] == "active" and ruleset["target"] == "branch"
    assert ruleset["conditions"]["ref_name"]["include"] == ["refs/heads/main"]
    rules = ruleset["rules"]
    assert rules["non_fast_forward"] is True and rules["deletion"] is True
    review = rules["pull_request"]
    assert review["required_approving_review_count"] >= 1
    assert review["require_code_owner_review"] is True
    assert review["dismiss_stale_reviews_on_push"] is True
    check = rules["required_status_checks"]["required_check"]["context"]
    # The check is the PR workflow's always-running job, which needs the policy gate.
    required = workflows(name)[f"servespec-{name}-pr.yml"]["jobs"]["required"]
    assert required["name"] == check
    assert "policy" in required["needs"] and required["if"] == "${{ always() }}"
    assert "paths" not in workflows(name)[f"servespec-{name}-pr.yml"]["on"]["pull_request"]


@pytest.mark.parametrize("name", EXAMPLES)
def test_the_migration_label_runs_the_required_check_again(name: str) -> None:
    """The refusal says "label the pull request servespec:migration"; the label must count.

    Without `types`, pull_request runs only on opened, synchronize and reopened (GitHub docs,
    workflow syntax, on.<event_name>.types), and a re-run keeps the original event payload, so
    `github.event.pull_request.labels` would never see a label added after the failed run: the
    required check would stay red until someone pushed again.
    """
    data = workflows(name)[f"servespec-{name}-pr.yml"]
    types = data["on"]["pull_request"]["types"]
    assert {"opened", "synchronize", "reopened", "labeled", "unlabeled"} <= set(types)
    refusal = next(
        s for s in data["jobs"]["validate"]["steps"] if "--refuse-removals" in s.get("run", "")
    )
    assert refusal["if"] == f"!contains(github.event.pull_request.labels.*.name, '{MIGRATION}')"


@pytest.mark.parametrize("name", EXAMPLES)
def test_environments_admit_main_only_with_reviewers_where_approval_is_required(
    name: str,
) -> None:
    envs = environments(name)
    found = root(envs)
    for spec in envs:
        env = found[f"resource.github_repository_environment.{spec.environment}"]
        assert env["can_admins_bypass"] is False and env["prevent_self_review"] is True
        assert env["deployment_branch_policy"] == {
            "protected_branches": False,
            "custom_branch_policies": True,
        }
        policy = found[
            f"resource.github_repository_environment_deployment_policy.{spec.environment}_main"
        ]
        assert policy["branch_pattern"] == "main"
        assert ("reviewers" in env) == (spec.deployment.approval == "required")


def test_reviewers_resolve_teams_and_users() -> None:
    staging, prod = environments("assistant")
    review = prod.metadata.review.model_copy(update={"deployers": ["@acme/leads", "@octocat"]})
    envs = tuple(with_value(s, "metadata.review", review) for s in (staging, prod))
    found = root(envs)
    assert found["data.github_team.acme_leads"] == {"slug": "leads"}
    assert found["data.github_user.octocat"] == {"username": "octocat"}
    reviewers = found["resource.github_repository_environment.prod"]["reviewers"]
    assert reviewers == {
        "teams": ["data.github_team.acme_leads.id"],
        "users": ["data.github_user.octocat.id"],
    }


def test_the_oidc_subject_names_the_workflow_file() -> None:
    found = root(environments("assistant"))
    template = found[
        "resource.github_actions_repository_oidc_subject_claim_customization_template.subject"
    ]
    assert template == {
        "repository": "local.repository",
        "use_default": False,
        "include_claim_keys": ["repo", "context", "job_workflow_ref"],
    }


def test_role_variables_are_set_when_the_spec_names_the_account() -> None:
    staging = environments("assistant")[0]

    class Account:
        id = "111111111111"

    class WithAccount(type(staging)):  # type: ignore[misc]
        account: object = Account()

    spec = WithAccount.model_construct(**dict(staging))
    text = render(github.files((spec,))["variables.tf"])
    values = pygohcl.loads(text)["resource"]["github_actions_variable"]
    assert values["staging_apply_role"]["value"] == (
        "arn:aws:iam::111111111111:role/assistant-staging-github-apply"
    )
    assert values["staging_plan_role"]["variable_name"] == (
        "SERVESPEC_ASSISTANT_STAGING_PLAN_ROLE_ARN"
    )


def test_waivers_get_a_file_of_their_own() -> None:
    prod = environments("clinical-notes")[1]
    data = json.loads(github.waivers(prod))
    assert data["deployment"] == "clinical-notes"
    assert len(data["waivers"]) == len(prod.security.waivers)


def test_codeowners_give_security_the_last_word() -> None:
    loaded = [load_spec(ROOT / "spec" / f"{n}.yaml", root=ROOT) for n in EXAMPLES]
    text = codeowners.render(loaded).content
    lines = text.splitlines()
    assert "/generated/assistant/**/iam* @acme/security" in lines
    assert "/generated/assistant/github/ @acme/security" in lines  # waivers.json lives there
    assert "/policies/ @acme/security" in lines
    assert "/spec/assistant.yaml @acme/ml-platform" in lines
    # Last match wins: every security line comes after every owners line.
    first_security = min(i for i, line in enumerate(lines) if "@acme/security" in line)
    assert all(
        "@acme/security" in line for line in lines[first_security:] if line and line[0] == "/"
    )
    assert (ROOT / codeowners.PATH).read_text() == text


def owners_of(codeowners_text: str, path: str) -> list[str]:
    """GitHub's rule for the patterns we emit: the last matching line wins."""
    found: list[str] = []
    for line in codeowners_text.splitlines():
        if not line.startswith("/"):
            continue
        pattern, *owners = line.split()
        directory = pattern.endswith("/") and f"/{path}".startswith(pattern)
        if directory or fnmatch.fnmatch(f"/{path}", pattern):
            found = owners
    return found


def test_account_roots_need_a_security_owner() -> None:
    """generated/accounts/ holds the GitHub OIDC provider every role trusts and account IAM."""
    loaded = [load_spec(ROOT / "spec" / f"{n}.yaml", root=ROOT) for n in EXAMPLES]
    text = codeowners.render(loaded).content
    for path in ("111111111111/terraform/identity.tf", "444444444444/terraform/config.tf"):
        assert owners_of(text, f"generated/accounts/{path}") == ["@acme/security"], path
    assert owners_of(text, "generated/accounts/manifest.json") == ["@acme/security"]
    assert owners_of(text, "generated/assistant/staging/terraform/main.tf") == ["@acme/ml-platform"]
    assert owners_of(text, "generated/assistant/bootstrap/111111111111/x.tf") == ["@acme/security"]


def test_compile_check_finds_a_stale_codeowners(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(ROOT / "spec", tmp_path / "spec")
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    result = runner.invoke(cli, ["compile"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert (tmp_path / ".github" / "CODEOWNERS").is_file()
    (tmp_path / ".github" / "CODEOWNERS").write_text("* @someone\n")
    result = runner.invoke(cli, ["compile", "--check"])
    assert result.exit_code == 1
    assert ".github/CODEOWNERS: stale" in result.output


def test_gitattributes_mark_generated_output() -> None:
    assert "generated/** linguist-generated=true" in (ROOT / ".gitattributes").read_text()


def test_a_comment_only_spec_edit_changes_no_workflow_or_github_file(tmp_path: Path) -> None:
    from compiler import workflows as workflow_emitter

    source = (ROOT / "spec" / "assistant.yaml").read_text()
    edited = tmp_path / "spec" / "assistant.yaml"
    edited.parent.mkdir()
    edited.write_text(source.replace("\nmodel:\n", "\n# a reviewer's note\nmodel:\n", 1))
    (tmp_path / "spec" / "servespec.schema.json").write_text(
        (ROOT / "spec" / "servespec.schema.json").read_text()
    )
    before = load_spec(ROOT / "spec" / "assistant.yaml", root=ROOT)
    after = load_spec(edited, root=tmp_path)
    assert before.sha256 != after.sha256
    for emit in (workflow_emitter.emit, github.emit):
        assert emit(before.environments) == emit(after.environments)
    assert codeowners.render([before]) == codeowners.render([after])
