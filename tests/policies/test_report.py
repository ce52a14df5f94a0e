"""Reading checkov's JSON in each of the shapes it writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from compiler.policy.report import parse_report


def record(check_id: str, path: str, **extra: object) -> dict[str, object]:
    return {
        "check_id": check_id,
        "check_name": "name",
        "resource": "aws_kms_key.main",
        "file_abs_path": path,
        "file_line_range": [3, 9],
        **extra,
    }


def report(framework: str, resources: int, **sections: list[Any]) -> dict[str, Any]:
    results: dict[str, list[Any]] = {"passed_checks": [], "failed_checks": [], "skipped_checks": []}
    results = {**results, "parsing_errors": [], **sections}
    summary = {"resource_count": resources, "parsing_errors": len(results["parsing_errors"])}
    return {"check_type": framework, "results": results, "summary": summary}


def test_list_of_reports_and_relative_paths(tmp_path: Path) -> None:
    raw = [
        report("terraform", 2, failed_checks=[record("SSP_KMS_001", str(tmp_path / "a/kms.tf"))]),
        report(
            "dockerfile", 1, passed_checks=[record("CKV_DOCKER_2", str(tmp_path / "Dockerfile"))]
        ),
    ]
    scan = parse_report(raw, base=tmp_path)
    assert scan.resource_counts == {"terraform": 2, "dockerfile": 1}
    assert scan.resources == 3
    failed = scan.with_status("failed")
    assert [(f.check_id, f.where, f.framework) for f in failed] == [
        ("SSP_KMS_001", "a/kms.tf:3", "terraform")
    ]


def test_single_report_dict_and_skip_comment(tmp_path: Path) -> None:
    skipped = record("CKV_AWS_7", "/elsewhere/kms.tf", check_result={"suppress_comment": "why"})
    scan = parse_report(report("terraform", 1, skipped_checks=[skipped]), base=tmp_path)
    (finding,) = scan.with_status("skipped")
    assert finding.suppress_comment == "why"
    assert finding.file == "/elsewhere/kms.tf"  # outside base: shown absolute


def test_bare_summary_means_nothing_scanned(tmp_path: Path) -> None:
    raw = {"passed": 0, "failed": 0, "skipped": 0, "parsing_errors": 0, "resource_count": 0}
    scan = parse_report(raw, base=tmp_path)
    assert scan.findings == ()
    assert scan.resources == 0


def test_parsing_errors_are_kept(tmp_path: Path) -> None:
    scan = parse_report(report("terraform", 0, parsing_errors=["/x/broken.tf"]), base=tmp_path)
    assert scan.parsing_errors == ("/x/broken.tf",)
