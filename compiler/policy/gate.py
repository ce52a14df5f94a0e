"""One gate run: locate checkov, scan once, judge. No click here, so tests call it directly."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .locate import find_checkov
from .report import Scan, parse_report
from .run import GateInput, run_checkov, unscannable
from .verdict import Verdict, judge


class GateError(Exception):
    """The gate cannot give a verdict (exit 2): bad paths, no checkov, no report."""


@dataclass(frozen=True)
class GateResult:
    scan: Scan
    verdict: Verdict


def default_targets(root: Path) -> list[Path]:
    # Generated workflows are committed under .github/workflows, the only place
    # checkov's github_actions framework looks for them.
    targets = [root / "generated"]
    workflows = root / ".github" / "workflows"
    return targets + ([workflows] if workflows.is_dir() else [])


def run_gate(
    targets: Sequence[Path],
    *,
    root: Path,
    environ: Mapping[str, str],
    today: dt.date,
) -> GateResult:
    missing = [str(t) for t in targets if not t.exists()]
    if missing:
        raise GateError(f"nothing to scan at {', '.join(missing)} (run `servespec compile`?)")
    skipped = unscannable(targets)
    if skipped:
        names = ", ".join(str(p) for p in skipped[:5])
        raise GateError(f"checkov's terraform framework silently skips .tf.json: {names}")
    checkov = find_checkov(root, environ)
    gate = GateInput(checkov=checkov, targets=tuple(targets), policies=root / "policies")
    scan = parse_report(run_checkov(gate), base=Path.cwd())
    return GateResult(scan, judge(scan, today))
