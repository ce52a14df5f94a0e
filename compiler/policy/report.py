"""checkov's JSON report, read into typed findings.

checkov writes one report per framework (a list), a single dict when only one framework
produced results, and a bare summary when nothing was scanned at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Status = Literal["passed", "failed", "skipped"]
_SECTIONS: tuple[tuple[str, Status], ...] = (
    ("passed_checks", "passed"),
    ("failed_checks", "failed"),
    ("skipped_checks", "skipped"),
)


@dataclass(frozen=True)
class Finding:
    check_id: str
    check_name: str
    status: Status
    framework: str
    resource: str
    file: str
    line: int
    end_line: int
    severity: str | None = None
    guideline: str | None = None
    details: tuple[str, ...] = ()
    suppress_comment: str | None = None

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class Scan:
    findings: tuple[Finding, ...]
    resource_counts: dict[str, int] = field(default_factory=dict)
    parsing_errors: tuple[str, ...] = ()

    def with_status(self, status: Status) -> list[Finding]:
        return [f for f in self.findings if f.status == status]

    @property
    def resources(self) -> int:
        return sum(self.resource_counts.values())


def _reports(raw: Any) -> Iterator[dict[str, Any]]:
    for report in raw if isinstance(raw, list) else [raw]:
        if isinstance(report, dict):
            yield report


def _display_path(record: dict[str, Any], base: Path) -> str:
    path = Path(str(record.get("file_abs_path") or record.get("file_path") or "?"))
    try:
        return path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def _finding(record: dict[str, Any], status: Status, framework: str, base: Path) -> Finding:
    lines = record.get("file_line_range") or [0, 0]
    return Finding(
        check_id=str(record.get("check_id")),
        check_name=str(record.get("check_name") or ""),
        status=status,
        framework=framework,
        resource=str(record.get("resource") or ""),
        file=_display_path(record, base),
        line=int(lines[0]),
        end_line=int(lines[-1]),
        severity=record.get("severity"),
        guideline=record.get("guideline"),
        details=tuple(str(d) for d in record.get("details") or ()),
        suppress_comment=(record.get("check_result") or {}).get("suppress_comment"),
    )


def parse_report(raw: Any, base: Path) -> Scan:
    """Findings from every framework's report; paths shown relative to ``base``."""
    findings: list[Finding] = []
    counts: dict[str, int] = {}
    errors: list[str] = []
    for report in _reports(raw):
        framework = str(report.get("check_type") or "unknown")
        summary = report.get("summary") or {}
        counts[framework] = counts.get(framework, 0) + int(summary.get("resource_count") or 0)
        results = report.get("results") or {}
        errors.extend(str(e) for e in results.get("parsing_errors") or ())
        if int(summary.get("parsing_errors") or 0) and not results.get("parsing_errors"):
            errors.append(f"{framework}: {summary['parsing_errors']} file(s) failed to parse")
        for section, status in _SECTIONS:
            findings.extend(_finding(r, status, framework, base) for r in results.get(section, []))
    findings.sort(key=lambda f: (f.file, f.line, f.check_id, f.resource))
    return Scan(tuple(findings), counts, tuple(errors))
