"""The gate's verdict: clean, failed, or unable to judge.

"0 failed of 0 checked" is not a pass: the gate refuses a scan that saw no resources, that
ran none of our own policies (checkov loads custom checks silently or not at all), or that
could not parse a file.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import IntEnum

from .report import Finding, Scan
from .waivers import Waiver, read_waiver

OUR_PREFIX = "SSP_"


class Outcome(IntEnum):
    CLEAN = 0
    FAILED = 1
    INVALID = 2


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    failures: tuple[Finding, ...]
    waivers: tuple[Waiver, ...]
    bad_waivers: tuple[tuple[Waiver, str], ...]
    problems: tuple[str, ...]
    our_checks: frozenset[str]


def scan_problems(scan: Scan, our_checks: frozenset[str]) -> list[str]:
    problems = [f"checkov could not parse: {error}" for error in scan.parsing_errors]
    if scan.resource_counts.get("terraform", 0) == 0:
        problems.append("scanned zero Terraform resources (wrong path, or only .tf.json?)")
    if not our_checks:
        problems.append(
            "none of servespec's policies ran: policies/ was not loaded "
            "(missing __init__.py?) or no resource matched them"
        )
    return problems


def judge(scan: Scan, today: dt.date) -> Verdict:
    our_checks = frozenset(f.check_id for f in scan.findings if f.check_id.startswith(OUR_PREFIX))
    waivers = tuple(read_waiver(f) for f in scan.with_status("skipped"))
    bad = tuple((w, p) for w in waivers if (p := w.problem(today)) is not None)
    failures = tuple(scan.with_status("failed"))
    problems = tuple(scan_problems(scan, our_checks))
    if problems:
        outcome = Outcome.INVALID
    elif failures or bad:
        outcome = Outcome.FAILED
    else:
        outcome = Outcome.CLEAN
    return Verdict(outcome, failures, waivers, bad, problems, our_checks)
