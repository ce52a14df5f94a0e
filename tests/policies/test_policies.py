"""Every policy against its pass and fail fixtures: exact resource sets, nothing unparsed.

Layout: fixtures/checks/<CHECK_ID>/pass*/ and fail*/ are separate root modules (checks that
read terraform_data.servespec_policy need one contract per module); expected.json lists the
resources that must pass (all under pass*/) and fail (all under fail*/).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from compiler.policy.fields import FALLBACK, governance

from .conftest import CHECK_FIXTURES, POLICIES

CHECK_IDS = sorted(p.name for p in CHECK_FIXTURES.iterdir() if p.is_dir())
_ID_IN_SOURCE = re.compile(r'id="(SSP_[A-Z0-9]+_\d{3})"|^\s*id:\s*(SSP_[A-Z0-9]+_\d{3})', re.M)


def declared_ids() -> set[str]:
    sources = [*POLICIES.glob("*.py"), *POLICIES.glob("graph/*.yaml")]
    return {a or b for p in sources for a, b in _ID_IN_SOURCE.findall(p.read_text())}


def results(report: dict[str, Any], check_id: str, section: str) -> list[tuple[str, str]]:
    """(fixture subdirectory, resource) for one check's results in one section."""
    found = []
    for record in report["results"][section]:
        parts = Path(record["file_path"].lstrip("/")).parts
        if record["check_id"] == check_id and parts[0] == check_id:
            found.append((parts[1], record["resource"]))
    return found


def test_every_policy_has_fixtures_and_a_spec_field() -> None:
    ids = declared_ids()
    assert ids == set(CHECK_IDS)
    assert all(governance(check_id) is not FALLBACK for check_id in ids)


def test_fixtures_parse(fixture_report: dict[str, Any]) -> None:
    assert fixture_report["summary"]["parsing_errors"] == 0
    assert fixture_report["results"]["parsing_errors"] == []


@pytest.mark.parametrize("check_id", CHECK_IDS)
def test_policy_fixture(fixture_report: dict[str, Any], check_id: str) -> None:
    expected = json.loads((CHECK_FIXTURES / check_id / "expected.json").read_text())
    passed = results(fixture_report, check_id, "passed_checks")
    failed = results(fixture_report, check_id, "failed_checks")
    assert all(sub.startswith("pass") for sub, _ in passed), passed
    assert all(sub.startswith("fail") for sub, _ in failed), failed
    assert sorted(r for _, r in passed) == sorted(expected["pass"])
    assert sorted(r for _, r in failed) == sorted(expected["fail"])


@pytest.mark.parametrize("check_id", CHECK_IDS)
def test_guideline_names_the_spec_field(fixture_report: dict[str, Any], check_id: str) -> None:
    # The gate's table (fields.py) and checkov's own output must tell the same story.
    records = [
        r
        for section in ("passed_checks", "failed_checks")
        for r in fixture_report["results"][section]
        if r["check_id"] == check_id
    ]
    rule = governance(check_id)
    assert {r["guideline"] for r in records} == {f"spec field: {rule.spec_field} | fix: {rule.fix}"}
    assert {r["severity"] for r in records} <= {"LOW", "MEDIUM", "HIGH", "CRITICAL"}
