"""checkov's built-in AWS checks on every generated root: 0 failed, and proof it scanned.

Runs the isolated checkov ($SERVESPEC_CHECKOV, else .venv-checkov/bin/checkov, else PATH)
once over both examples plus a canary root that must fail.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from .support import EXAMPLES, account_roots, artifacts, needs_checkov

# Each root module must pass at least this many checks: far below what it passes today
# (about 110 to 460), far above what an empty or unparsed directory yields.
MIN_PASSED = 100
MIN_PASSED_BOOTSTRAP = 60  # one account's bootstrap passes about 80: state buckets, key, roles
MIN_PASSED_ACCOUNT = 40  # an account root passes about 57: buckets, a key, Config, IAM

pytestmark = needs_checkov


@pytest.fixture
def report(checkov_report: dict[str, Any]) -> dict[str, Any]:
    return checkov_report


def _root(check: dict[str, Any]) -> str:
    """/assistant/prod/terraform/compute.tf -> assistant/prod/terraform"""
    return str(Path(check["file_path"].lstrip("/")).parent)


def _by_root(report: dict[str, Any], kind: str) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for check in report["results"][kind]:
        found[_root(check)].append(check)
    return found


def test_nothing_failed_to_parse(report: dict[str, Any]) -> None:
    assert report["summary"]["parsing_errors"] == 0


def test_the_canary_fails(report: dict[str, Any]) -> None:
    assert _by_root(report, "failed_checks")["canary"], "checkov evaluated nothing"


def test_no_generated_resource_fails(report: dict[str, Any]) -> None:
    failed = {
        f"{root}: {c['check_id']} {c['resource']} ({c['check_name']})"
        for root, checks in _by_root(report, "failed_checks").items()
        if root != "canary"
        for c in checks
    }
    assert sorted(failed) == []


@pytest.mark.parametrize("example", EXAMPLES)
def test_every_root_was_scanned(report: dict[str, Any], example: str) -> None:
    roots = {str(Path(a.path).parent.relative_to("generated")) for a in artifacts(example)}
    passed = _by_root(report, "passed_checks")

    def least(root: str) -> int:
        return MIN_PASSED_BOOTSTRAP if "/bootstrap/" in f"/{root}/" else MIN_PASSED

    assert {root: len(passed[root]) for root in roots if len(passed[root]) < least(root)} == {}


def test_every_account_root_was_scanned(report: dict[str, Any]) -> None:
    roots = {str(Path(a.path).parent.relative_to("generated")) for a in account_roots()}
    passed = _by_root(report, "passed_checks")
    assert len(roots) == 4
    short = {root: len(passed[root]) for root in roots if len(passed[root]) < MIN_PASSED_ACCOUNT}
    assert short == {}


def test_every_skip_says_why(report: dict[str, Any]) -> None:
    for check in report["results"]["skipped_checks"]:
        reason = check["check_result"].get("suppress_comment", "")
        assert len(reason) >= 30, (check["check_id"], check["resource"], reason)
