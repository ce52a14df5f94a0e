"""Skips are spec waivers (owner, expiry) or compiler design decisions (reason only)."""

from __future__ import annotations

import datetime as dt

import pytest

from compiler.policy.report import Finding
from compiler.policy.waivers import read_waiver

TODAY = dt.date(2026, 11, 24)


def skipped(comment: str | None) -> Finding:
    return Finding(
        "CKV_AWS_7",
        "n",
        "skipped",
        "terraform",
        "aws_kms_key.a",
        "k.tf",
        1,
        2,
        suppress_comment=comment,
    )


@pytest.mark.parametrize(
    "comment",
    [
        "rotation handled by HSM (owner sec-team, expires 2027-01-31)",  # the emitter's shape
        "rotation handled by HSM (sec-team, expires 2027-01-31)",
    ],
)
def test_spec_waiver_is_read(comment: str) -> None:
    waiver = read_waiver(skipped(comment))
    assert (waiver.kind, waiver.reason, waiver.owner, waiver.expires) == (
        "spec",
        "rotation handled by HSM",
        "sec-team",
        dt.date(2027, 1, 31),
    )
    assert waiver.problem(TODAY) is None


def test_expiry_day_itself_is_still_valid() -> None:
    waiver = read_waiver(skipped("reason here (owner o, expires 2026-11-24)"))
    assert waiver.problem(TODAY) is None
    assert waiver.problem(TODAY + dt.timedelta(days=1)) == "waiver expired on 2026-11-24"


@pytest.mark.parametrize(
    "comment",
    ["AWS: ALB logs need SSE-S3", "reason (owner)", "reason (owner, expires 2026-13-01)"],
)
def test_reason_only_is_a_compiler_decision(comment: str) -> None:
    waiver = read_waiver(skipped(comment))
    assert (waiver.kind, waiver.reason, waiver.owner, waiver.expires) == (
        "compiler",
        comment,
        None,
        None,
    )
    assert waiver.problem(TODAY) is None


@pytest.mark.parametrize("comment", [None, "", "   "])
def test_skip_without_reason_does_not_count(comment: str | None) -> None:
    assert read_waiver(skipped(comment)).problem(TODAY) == "skip without a reason"
