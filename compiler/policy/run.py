"""Run checkov once, in its own environment, and read its JSON report."""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FRAMEWORKS = ("terraform", "dockerfile", "github_actions")
REPORT_NAME = "results_json.json"


class CheckovFailed(Exception):
    """checkov ran but produced no report we can read."""


@dataclass(frozen=True)
class GateInput:
    checkov: Path
    targets: tuple[Path, ...]
    policies: Path


def command(gate: GateInput, out_dir: Path) -> list[str]:
    # --skip-download: never call the vendor's API (no network, and it would hang CI).
    # Built-in checks stay on; policies/ adds ours (Python checks and graph/*.yaml).
    args = [str(gate.checkov), "--skip-download", "--framework", *FRAMEWORKS]
    args += ["--external-checks-dir", str(gate.policies)]
    args += ["-o", "json", "--output-file-path", str(out_dir)]
    for target in gate.targets:
        args += ["-d" if target.is_dir() else "-f", str(target.resolve())]
    return args


def run_checkov(gate: GateInput) -> Any:
    """checkov's raw JSON report. Exit status 1 only means "something failed"."""
    with tempfile.TemporaryDirectory(prefix="servespec-policy-") as tmp:
        out_dir = Path(tmp)
        # Run from the empty temp dir: checkov would otherwise pick up a .checkov.yaml from
        # the caller's directory, and a config file there could skip checks unseen.
        proc = subprocess.run(
            command(gate, out_dir), capture_output=True, text=True, check=False, cwd=out_dir
        )
        report = out_dir / REPORT_NAME
        if proc.returncode not in (0, 1) or not report.is_file():
            tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
            raise CheckovFailed(f"checkov exited {proc.returncode} without a report:\n{tail}")
        return json.loads(report.read_text(encoding="utf-8"))


def unscannable(targets: Sequence[Path]) -> list[Path]:
    """Files checkov's terraform framework skips without a word (.tf.json)."""
    found: list[Path] = []
    for target in targets:
        candidates = target.rglob("*.tf.json") if target.is_dir() else [target]
        found.extend(p for p in candidates if p.name.endswith(".tf.json"))
    return sorted(found)
