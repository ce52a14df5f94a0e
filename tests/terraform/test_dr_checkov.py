"""checkov on the DR, backup, audit and DNS files of both examples' roots.

The replication check passes for real wherever the spec asks for DR (the skip it needs
without DR is gone), nothing in these files fails, and every skip is one of the few that
AWS itself or the spec justifies.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from compiler.terraform.stack import dr

from .support import EXAMPLES, environments, needs_checkov

OURS = ("audit.tf", "backup.tf", "dr.tf", "dns.tf")
# (check, resource) -> why it may be skipped; anything else skipped in our files fails.
EXPECTED_SKIPS = {
    ("CKV_AWS_145", "aws_s3_bucket.logs_secondary"): "SSE-S3",
    ("CKV_AWS_18", "aws_s3_bucket.logs_secondary"): "logs to itself",
    ("CKV_AWS_144", "aws_s3_bucket.logs_secondary"): "secondary region",
    ("CKV_AWS_144", "aws_s3_bucket.models_replica"): "replica of aws_s3_bucket.models",
    ("CKV_AWS_144", "aws_s3_bucket.audit_replica"): "replica of aws_s3_bucket.audit",
    ("CKV_AWS_260", "aws_vpc_security_group_ingress_rule.secondary_alb_http_0_0_0_0_0"): (
        "301 redirect to HTTPS"
    ),
}


pytestmark = needs_checkov


@pytest.fixture
def report(checkov_report: dict[str, Any]) -> dict[str, Any]:
    return checkov_report


def _ours(report: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [c for c in report["results"][kind] if Path(c["file_path"]).name in OURS]


def _root(check: dict[str, Any]) -> str:
    return str(Path(check["file_path"].lstrip("/")).parent)


def test_nothing_in_our_files_fails(report: dict[str, Any]) -> None:
    failed = [(c["check_id"], _root(c), c["resource"]) for c in _ours(report, "failed_checks")]
    assert failed == []
    assert report["summary"]["parsing_errors"] == 0
    assert len(_ours(report, "passed_checks")) > 100  # it did scan them


def test_only_justified_skips(report: dict[str, Any]) -> None:
    for check in _ours(report, "skipped_checks"):
        key = (check["check_id"], check["resource"])
        assert key in EXPECTED_SKIPS, key
        reason = check["check_result"].get("suppress_comment", "")
        assert EXPECTED_SKIPS[key] in reason, (key, reason)


@pytest.mark.parametrize("example", EXAMPLES)
def test_replication_check_passes_for_real_where_the_spec_asks_for_dr(
    report: dict[str, Any], example: str
) -> None:
    passed = {
        (_root(c), c["resource"])
        for c in report["results"]["passed_checks"]
        if c["check_id"] == "CKV_AWS_144"
    }
    for spec in environments(example):
        root = f"{example}/{spec.environment}/terraform"
        for bucket in ("aws_s3_bucket.models", "aws_s3_bucket.audit"):
            assert ((root, bucket) in passed) is dr.replicates(spec), (root, bucket)
