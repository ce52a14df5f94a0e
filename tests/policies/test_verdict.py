"""The gate never passes on nothing: zero resources, none of our checks, parse errors."""

from __future__ import annotations

import datetime as dt

from compiler.policy.report import Finding, Scan, Status
from compiler.policy.verdict import Outcome, judge

TODAY = dt.date(2026, 11, 24)


def finding(check_id: str, status: Status, comment: str | None = None) -> Finding:
    return Finding(
        check_id, "n", status, "terraform", "r.x", "f.tf", 1, 1, suppress_comment=comment
    )


def scan(*findings: Finding, resources: int = 5, errors: tuple[str, ...] = ()) -> Scan:
    return Scan(tuple(findings), {"terraform": resources}, errors)


def test_clean() -> None:
    verdict = judge(scan(finding("SSP_KMS_001", "passed")), TODAY)
    assert verdict.outcome is Outcome.CLEAN
    assert verdict.our_checks == {"SSP_KMS_001"}


def test_failure() -> None:
    verdict = judge(scan(finding("SSP_KMS_001", "passed"), finding("CKV_AWS_7", "failed")), TODAY)
    assert verdict.outcome is Outcome.FAILED
    assert [f.check_id for f in verdict.failures] == ["CKV_AWS_7"]


def test_expired_waiver_fails() -> None:
    old = finding("CKV_AWS_7", "skipped", "reason (owner, expires 2026-01-01)")
    verdict = judge(scan(finding("SSP_KMS_001", "passed"), old), TODAY)
    assert verdict.outcome is Outcome.FAILED
    assert verdict.bad_waivers[0][1] == "waiver expired on 2026-01-01"


def test_zero_resources_is_invalid() -> None:
    verdict = judge(scan(finding("SSP_KMS_001", "passed"), resources=0), TODAY)
    assert verdict.outcome is Outcome.INVALID


def test_only_builtin_checks_is_invalid() -> None:
    verdict = judge(scan(finding("CKV_AWS_7", "passed")), TODAY)
    assert verdict.outcome is Outcome.INVALID
    assert "none of servespec's policies ran" in verdict.problems[0]


def test_parse_error_is_invalid_even_with_failures() -> None:
    found = (finding("SSP_KMS_001", "failed"),)
    verdict = judge(scan(*found, errors=("/x/broken.tf",)), TODAY)
    assert verdict.outcome is Outcome.INVALID
