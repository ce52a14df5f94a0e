"""Invariants of the committed output: fresh, and free of interpolations escaped by mistake."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from compiler.cli import cli

ROOT = Path(__file__).resolve().parents[1]


def test_committed_generated_output_is_fresh(monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(cli, ["compile", "--check"], catch_exceptions=False)
    assert result.exit_code == 0, result.stdout + result.stderr


def test_no_escaped_interpolation_in_terraform() -> None:
    # "$${" renders a literal "${...}": in generated Terraform it always means a str that
    # should have been a Template or Ref (an ARN condition that would never match).
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sorted((ROOT / "generated").rglob("*.tf"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if "$${" in line
    ]
    assert offenders == []
