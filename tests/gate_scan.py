"""One checkov run (built-in checks plus policies/) over many Terraform trees at once.

checkov costs ~4 s of imports per run and ~6 s per tree: tests that compare several
compiled variants write them side by side and scan them together.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from compiler.artifacts import Artifact

ROOT = Path(__file__).resolve().parents[1]


def failed_by_tree(
    checkov: Path, trees: Mapping[str, Sequence[Artifact]], tmp: Path
) -> dict[str, set[tuple[str, str, str]]]:
    """(check id, resource, file) of every failure, per tree name."""
    for name, artifacts in trees.items():
        for artifact in artifacts:
            if artifact.path.endswith(".tf"):
                path = tmp / name / artifact.path
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(artifact.content, encoding="utf-8")
    args = [str(checkov), "--skip-download", "--framework", "terraform", "-d", str(tmp)]
    args += ["--external-checks-dir", str(ROOT / "policies"), "--quiet"]
    args += ["-o", "json", "--output-file-path", str(tmp / ".report")]
    proc = subprocess.run(args, capture_output=True, text=True, check=False, cwd=tmp, timeout=900)
    report_path = tmp / ".report" / "results_json.json"
    assert report_path.is_file(), proc.stderr[-3000:]
    raw = json.loads(report_path.read_text(encoding="utf-8"))
    report = raw[0] if isinstance(raw, list) else raw
    assert report["summary"]["parsing_errors"] == 0
    assert report["summary"]["resource_count"] > 0, "checkov scanned nothing"
    failed: dict[str, set[tuple[str, str, str]]] = {name: set() for name in trees}
    for check in report["results"]["failed_checks"]:
        name, _, file = check["file_path"].lstrip("/").partition("/")
        failed[name].add((check["check_id"], check["resource"], file))
    return failed
