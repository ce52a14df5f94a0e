"""The verdict as text (a table for reviewers), JSON (for tools) and SARIF (code scanning)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from .fields import governance
from .report import Finding, Scan
from .verdict import Outcome, Verdict
from .waivers import Waiver

_HEADERS = ("CHECK", "RESOURCE", "WHERE", "SPEC FIELD", "FIX")
_SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_SARIF_LEVEL = {"CRITICAL": "error", "HIGH": "error", "MEDIUM": "warning", "LOW": "note"}
_SECURITY_SEVERITY = {"CRITICAL": "9.5", "HIGH": "8.0", "MEDIUM": "5.5", "LOW": "3.0"}


def _row(finding: Finding) -> tuple[str, str, str, str, str]:
    rule = governance(finding.check_id)
    return (finding.check_id, finding.resource, finding.where, rule.spec_field, rule.fix)


def table(rows: Sequence[Sequence[str]], headers: Sequence[str] = _HEADERS) -> list[str]:
    # The last column is left ragged so long fixes do not pad every line.
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers) - 1)]
    lines = []
    for row in [headers, *rows]:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return lines


def headline(scan: Scan, verdict: Verdict) -> str:
    counts = ", ".join(f"{fw} {n}" for fw, n in sorted(scan.resource_counts.items()))
    state = {Outcome.CLEAN: "PASSED", Outcome.FAILED: "FAILED", Outcome.INVALID: "INVALID"}
    return (
        f"servespec policy: {state[verdict.outcome]}: {len(verdict.failures)} failed, "
        f"{len(scan.with_status('passed'))} passed, {len(verdict.waivers)} waived; "
        f"resources scanned: {counts or 'none'}; servespec policies run: "
        f"{len(verdict.our_checks)}"
    )


def _failed_section(failures: Sequence[Finding]) -> list[str]:
    lines = ["", "Failed checks:", *table([_row(f) for f in failures])]
    lines += ["", "What each failed check means:"]
    by_id = {f.check_id: f for f in failures}
    lines += [f"  {i} [{f.severity or '-'}] {f.check_name}" for i, f in sorted(by_id.items())]
    lines += [f"  {f.check_id} {f.resource}: {d}" for f in failures for d in f.details]
    return lines


def _spec_waivers(waivers: Sequence[Waiver]) -> list[str]:
    rows = [
        (
            w.finding.check_id,
            w.finding.resource,
            w.finding.where,
            w.owner or "?",
            f"{w.reason} (expires {w.expires})",
        )
        for w in waivers
    ]
    headers = ("CHECK", "RESOURCE", "WHERE", "OWNER", "REASON")
    return ["", "Waived by the spec (security.waivers):", *table(rows, headers)]


def _design_skips(waivers: Sequence[Waiver]) -> list[str]:
    rows = [(w.finding.check_id, w.finding.resource, w.finding.where, w.reason) for w in waivers]
    headers = ("CHECK", "RESOURCE", "WHERE", "REASON")
    return ["", "Skipped by compiler design (reason in the generated file):", *table(rows, headers)]


def text(scan: Scan, verdict: Verdict) -> str:
    lines = [headline(scan, verdict)]
    lines += [f"  cannot judge: {problem}" for problem in verdict.problems]
    if verdict.failures:
        lines += _failed_section(verdict.failures)
    if verdict.bad_waivers:
        lines += ["", "Skips that no longer count (failures):"]
        lines += [
            f"  {w.finding.check_id} {w.finding.resource} {w.finding.where}: {p}"
            for w, p in verdict.bad_waivers
        ]
    spec = [w for w in verdict.waivers if w.kind == "spec"]
    design = [w for w in verdict.waivers if w.kind == "compiler"]
    lines += _spec_waivers(spec) if spec else []
    lines += _design_skips(design) if design else []
    return "\n".join(lines) + "\n"


def _finding_json(finding: Finding) -> dict[str, Any]:
    rule = governance(finding.check_id)
    return {
        "check_id": finding.check_id,
        "check_name": finding.check_name,
        "severity": finding.severity,
        "resource": finding.resource,
        "file": finding.file,
        "line": finding.line,
        "spec_field": rule.spec_field,
        "fix": rule.fix,
        "details": list(finding.details),
    }


def as_json(scan: Scan, verdict: Verdict) -> str:
    document = {
        "outcome": verdict.outcome.name.lower(),
        "exit_code": int(verdict.outcome),
        "problems": list(verdict.problems),
        "resource_counts": dict(sorted(scan.resource_counts.items())),
        "passed": len(scan.with_status("passed")),
        "servespec_policies_run": sorted(verdict.our_checks),
        "failed": [_finding_json(f) for f in verdict.failures],
        "waived": [
            {
                **_finding_json(w.finding),
                "kind": w.kind,
                "owner": w.owner,
                "reason": w.reason,
                "expires": w.expires.isoformat() if w.expires else None,
                "problem": next((p for bw, p in verdict.bad_waivers if bw is w), None),
            }
            for w in verdict.waivers
        ],
    }
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def _sarif_rule(finding: Finding) -> dict[str, Any]:
    rule = governance(finding.check_id)
    severity = (finding.severity or "HIGH").upper()
    return {
        "id": finding.check_id,
        "name": finding.check_id,
        "shortDescription": {"text": finding.check_name or finding.check_id},
        "help": {"text": f"Spec field: {rule.spec_field}\nFix: {rule.fix}"},
        "defaultConfiguration": {"level": _SARIF_LEVEL.get(severity, "error")},
        "properties": {"security-severity": _SECURITY_SEVERITY.get(severity, "8.0")},
    }


def _sarif_result(finding: Finding) -> dict[str, Any]:
    rule = governance(finding.check_id)
    message = f"{finding.check_name} ({finding.resource}). Spec field: {rule.spec_field}. "
    message += f"Fix: {rule.fix}"
    region = {"startLine": max(finding.line, 1), "endLine": max(finding.end_line, 1)}
    return {
        "ruleId": finding.check_id,
        "message": {"text": message},
        "locations": [
            {"physicalLocation": {"artifactLocation": {"uri": finding.file}, "region": region}}
        ],
    }


def as_sarif(scan: Scan, verdict: Verdict, version: str) -> str:
    rules = {f.check_id: _sarif_rule(f) for f in verdict.failures}
    run = {
        "tool": {
            "driver": {
                "name": "servespec-policy",
                "version": version,
                "informationUri": "https://www.checkov.io/",
                "rules": [rules[k] for k in sorted(rules)],
            }
        },
        "results": [_sarif_result(f) for f in verdict.failures],
    }
    document = {"$schema": _SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}
    return json.dumps(document, indent=2, sort_keys=True) + "\n"
