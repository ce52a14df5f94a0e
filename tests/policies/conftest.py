"""Fixtures for the policy tests: the isolated checkov, and one checkov run per fixture set.

Each checkov run costs ~4 s of imports, so fixtures are scanned in as few runs as possible
and the results are split by file path afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from compiler.policy.locate import CheckovMissing, find_checkov, repo_root

ROOT = repo_root()
POLICIES = ROOT / "policies"
FIXTURES = Path(__file__).parent / "fixtures"
CHECK_FIXTURES = FIXTURES / "checks"
STACK = FIXTURES / "stack"


@pytest.fixture(scope="session")
def checkov() -> Path:
    # Fail rather than skip: a policy suite that silently skips is the failure we guard.
    try:
        return find_checkov(ROOT, os.environ)
    except CheckovMissing as exc:
        pytest.fail(str(exc))


def scan(checkov: Path, directory: Path, tmp: Path, checks: list[str]) -> dict[str, Any]:
    """checkov's JSON for one directory, limited to ``checks``; one report (terraform)."""
    args = [str(checkov), "--skip-download", "--framework", "terraform", "-d", str(directory)]
    args += ["--external-checks-dir", str(POLICIES), "-c", ",".join(checks)]
    args += ["-o", "json", "--output-file-path", str(tmp)]
    proc = subprocess.run(args, capture_output=True, text=True, check=False)
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    report: Any = json.loads((tmp / "results_json.json").read_text(encoding="utf-8"))
    assert isinstance(report, dict), "expected one terraform report"
    return report


@pytest.fixture(scope="session")
def fixture_report(checkov: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    checks = sorted(p.name for p in CHECK_FIXTURES.iterdir() if p.is_dir())
    return scan(checkov, CHECK_FIXTURES, tmp_path_factory.mktemp("checks"), checks)
