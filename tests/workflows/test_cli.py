"""`servespec diff-summary` against a real temporary git repository."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from compiler.workflows.cli import diff_summary

from .helpers import FIXTURE, ROOT


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True)
    return result.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository whose first commit holds the frozen clinical-notes spec."""
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "config", "user.email", "ci@example.com")
    git(tmp_path, "config", "user.name", "ci")
    (tmp_path / "spec").mkdir()
    shutil.copy(FIXTURE, tmp_path / "spec" / "clinical-notes.yaml")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "base")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def edit(repo: Path, old: str, new: str) -> None:
    path = repo / "spec" / "clinical-notes.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(diff_summary, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_markdown_lists_changes_per_environment(repo: Path) -> None:
    base = git(repo, "rev-parse", "HEAD")
    edit(repo, "scaling: {min: 3, max: 12}", "scaling: {min: 3, max: 16}")
    edit(repo, "deployment: {approval: required}", "deployment: {approval: none}")
    code, out, _ = invoke("spec/clinical-notes.yaml", "--base-ref", base)
    assert code == 0
    assert out == (
        "### servespec plan: `clinical-notes` (spec/clinical-notes.yaml)\n\n"
        f"**What changed in the spec** since `{base[:12]}`\n\n"
        "- **staging**: no change\n"
        "- **prod**\n"
        "  - scaling.max 12 → 16\n"
        "  - deploy approval required → none\n"
    )


def test_plan_table_and_run_link(repo: Path) -> None:
    edit(repo, "max_queue: 16", "max_queue: 24")
    code, out, _ = invoke(
        "spec/clinical-notes.yaml",
        "--base-ref",
        "HEAD",
        "--plan",
        'staging={"add":0,"change":2,"destroy":0}',
        "--plan",
        "prod=",
        "--run-url",
        "https://example.com/run/1",
    )
    assert code == 0
    assert "| staging | 0 | 2 | 0 |\n| prod | – | – | – |\n" in out
    assert "No plan for prod: the plan failed or did not run." in out
    assert "  - serving.max_queue 16 → 24\n" in out
    assert out.endswith("[Workflow run](https://example.com/run/1)\n")


def test_json_for_the_deploy_workflow(repo: Path) -> None:
    edit(repo, '\n  version: "2026-11-20"', '\n  version: "2026-12-01"')
    code, out, _ = invoke("spec/clinical-notes.yaml", "--base-ref", "HEAD", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert list(data) == ["staging", "prod"]
    assert data["prod"] == [
        {"path": "model.version", "text": "model version 2026-11-20 → 2026-12-01"}
    ]


def test_spec_new_since_the_base_is_a_new_deployment(repo: Path) -> None:
    shutil.copy(ROOT / "spec" / "assistant.yaml", repo / "spec" / "assistant.yaml")
    code, out, _ = invoke("spec/assistant.yaml", "--base-ref", "HEAD")
    assert code == 0
    assert "assistant.yaml does not exist at HEAD: a new deployment" in out
    code, out, _ = invoke("spec/assistant.yaml", "--base-ref", "HEAD", "--format", "json")
    assert json.loads(out) == {
        "staging": [{"path": "environment", "text": "new environment staging"}],
        "prod": [{"path": "environment", "text": "new environment prod"}],
    }


def test_new_and_removed_environments(repo: Path) -> None:
    edit(repo, "  staging:\n", "  qa:\n")
    code, out, _ = invoke("spec/clinical-notes.yaml", "--base-ref", "HEAD", "--format", "json")
    data = json.loads(out)
    assert code == 0
    assert data["qa"][0]["text"].startswith("new environment qa:")
    assert data["staging"] == [
        {"path": "environment", "text": "environment staging removed from the deployment"}
    ]


def test_works_from_another_directory(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    edit(repo, "max_queue: 16", "max_queue: 24")
    monkeypatch.chdir(repo / "spec")
    code, out, _ = invoke("clinical-notes.yaml", "--base-ref", "HEAD")
    assert code == 0 and "serving.max_queue 16 → 24" in out


def test_bad_ref_is_invalid_input(repo: Path) -> None:
    code, _, err = invoke("spec/clinical-notes.yaml", "--base-ref", "no-such-ref")
    assert code == 2
    assert "'no-such-ref' is not a commit" in err


def test_invalid_current_spec_is_invalid_input(repo: Path) -> None:
    edit(repo, "max_queue: 16", "max_queue: lots")
    code, _, err = invoke("spec/clinical-notes.yaml", "--base-ref", "HEAD")
    assert code == 2
    assert "spec/clinical-notes.yaml:" in err and "serving.max_queue" in err


def test_base_that_no_longer_loads_is_explained(repo: Path) -> None:
    edit(repo, "max_queue: 16", "max_queue: lots")
    git(repo, "commit", "-q", "-am", "broken")
    edit(repo, "max_queue: lots", "max_queue: 16")
    code, out, _ = invoke("spec/clinical-notes.yaml", "--base-ref", "HEAD")
    assert code == 0
    assert "does not load with this servespec" in out


def test_malformed_plan_option_is_a_usage_error(repo: Path) -> None:
    code, _, err = invoke("spec/clinical-notes.yaml", "--base-ref", "HEAD", "--plan", "prod")
    assert code == 2 and "expected ENV=COUNTS" in err


def test_a_change_made_everywhere_is_listed_once(repo: Path) -> None:
    edit(repo, "max_queue: 16", "max_queue: 24")
    edit(repo, "scaling: {min: 3, max: 12}", "scaling: {min: 3, max: 16}")
    code, out, _ = invoke("spec/clinical-notes.yaml", "--base-ref", "HEAD")
    assert code == 0
    assert out.endswith(
        "- **every environment**\n"
        "  - serving.max_queue 16 → 24\n"
        "- **staging**: nothing else\n"
        "- **prod** also\n"
        "  - scaling.max 12 → 16\n"
    )


def test_removals_pass_when_nothing_is_removed(repo: Path) -> None:
    edit(repo, "scaling: {min: 3, max: 12}", "scaling: {min: 3, max: 16}")
    code, _, err = invoke("spec/clinical-notes.yaml", "--base-ref", "HEAD", "--refuse-removals")
    assert (code, err) == (0, "")


def test_a_removed_environment_is_refused_with_the_way_out(repo: Path) -> None:
    path = repo / "spec" / "clinical-notes.yaml"
    text = path.read_text()
    start = text.index("\n  staging:")
    end = text.index("\n  prod:")
    path.write_text(text[:start] + text[end:])
    code, _, err = invoke("spec/clinical-notes.yaml", "--base-ref", "HEAD", "--refuse-removals")
    assert code == 1
    assert "environments.staging: removed, but its stack and state stay live" in err
    assert "label the pull request servespec:migration" in err


def test_a_renamed_deployment_is_refused(repo: Path) -> None:
    edit(repo, "name: clinical-notes\n", "name: notes\n")
    code, _, err = invoke("spec/clinical-notes.yaml", "--base-ref", "HEAD", "--refuse-removals")
    assert code == 1
    assert "metadata.name: 'clinical-notes' renamed to 'notes'" in err


def test_a_new_environment_lists_its_setup(repo: Path) -> None:
    qa = (
        '\n  qa:\n    account: {id: "555555555555"}\n'
        "    security: {tls: {domain: notes.qa.health.example.com, hosted_zone_id: Z0QA0123456789}}"
    )
    edit(repo, "\n  prod:", qa + "\n  prod:")
    code, out, err = invoke("spec/clinical-notes.yaml", "--base-ref", "HEAD")
    assert code == 0, err
    assert "**New environment `qa`: setup before its first deploy**" in out
    assert "`terraform apply` in `generated/clinical-notes/github`" in out
    assert "SERVESPEC_CLINICAL_NOTES_QA_PLAN_ROLE_ARN" in out
