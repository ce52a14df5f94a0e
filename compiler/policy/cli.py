"""`servespec policy [PATH...]`: the security gate a pull request must pass.

Exit 0 clean, 1 a check failed (or a skip is not a valid spec waiver), 2 the gate could not
judge: checkov missing or crashed, nothing scanned, our policies not loaded, parse errors.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path

import click

from .. import __version__
from .gate import GateError, default_targets, run_gate
from .locate import CheckovMissing, repo_root
from .render import as_json, as_sarif, text
from .run import CheckovFailed
from .verdict import Outcome


@click.command("policy")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "sarif"]),
    default="text",
    show_default=True,
    help="text for people, json for tools, sarif for code scanning.",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the json/sarif report here instead of stdout (text summary still printed).",
)
def policy(paths: tuple[Path, ...], fmt: str, output: Path | None) -> None:
    """Gate generated output with checkov's AWS checks plus policies/ (default: generated/)."""
    root = repo_root()
    targets = list(paths) or default_targets(root)
    try:
        result = run_gate(targets, root=root, environ=os.environ, today=dt.date.today())
    except (CheckovMissing, CheckovFailed, GateError) as exc:
        click.echo(f"servespec policy: cannot run: {exc}", err=True)
        sys.exit(int(Outcome.INVALID))
    scan, verdict = result.scan, result.verdict
    if fmt == "text":
        click.echo(text(scan, verdict), nl=False)
    else:
        report = as_json(scan, verdict) if fmt == "json" else as_sarif(scan, verdict, __version__)
        if output is None:
            click.echo(report, nl=False)
        else:
            output.write_text(report, encoding="utf-8")
            click.echo(text(scan, verdict), nl=False, err=True)
    sys.exit(int(verdict.outcome))
