"""Rendering a verdict: aligned table, JSON with spec fields, SARIF with locations."""

from __future__ import annotations

import datetime as dt
import json

from compiler.policy.render import as_json, as_sarif, table, text
from compiler.policy.report import Finding, Scan
from compiler.policy.verdict import judge

FAILED = Finding(
    "SSP_KMS_001",
    "KMS keys rotate",
    "failed",
    "terraform",
    "aws_kms_key.main",
    "generated/a/prod/terraform/kms.tf",
    7,
    20,
    severity="HIGH",
    details=("rotation off",),
)
PASSED = Finding(
    "SSP_ENC_002",
    "logs",
    "passed",
    "terraform",
    "aws_cloudwatch_log_group.a",
    "generated/a/prod/terraform/observability.tf",
    1,
    5,
)
SCAN = Scan((FAILED, PASSED), {"terraform": 2})
VERDICT = judge(SCAN, dt.date(2026, 11, 24))


def test_table_aligns_all_but_the_last_column() -> None:
    lines = table([("a", "bb", "fix one"), ("ccc", "d", "x")], ("H1", "H2", "FIX"))
    assert lines == ["H1   H2  FIX", "a    bb  fix one", "ccc  d   x"]


def test_text_names_what_where_field_and_fix() -> None:
    out = text(SCAN, VERDICT)
    assert out.startswith("servespec policy: FAILED: 1 failed, 1 passed, 0 waived;")
    row = next(line for line in out.splitlines() if line.startswith("SSP_KMS_001"))
    assert "aws_kms_key.main" in row and "kms.tf:7" in row
    assert "security.kms.rotation" in row and "set security.kms.rotation: true in the spec" in row
    assert "  SSP_KMS_001 aws_kms_key.main: rotation off" in out


def test_json_is_stable_and_complete() -> None:
    document = json.loads(as_json(SCAN, VERDICT))
    assert document["exit_code"] == 1
    assert document["servespec_policies_run"] == ["SSP_ENC_002", "SSP_KMS_001"]
    assert document["failed"][0]["spec_field"] == "security.kms.rotation"
    assert as_json(SCAN, VERDICT) == as_json(SCAN, VERDICT)


def test_sarif_levels_and_regions() -> None:
    run = json.loads(as_sarif(SCAN, VERDICT, "1.0"))["runs"][0]
    (rule,) = run["tool"]["driver"]["rules"]
    assert rule["defaultConfiguration"]["level"] == "error"
    assert rule["properties"]["security-severity"] == "8.0"
    (result,) = run["results"]
    assert result["locations"][0]["physicalLocation"]["region"] == {"startLine": 7, "endLine": 20}
