"""`servespec ab report` and `servespec usage`: thin click layers over ab.py and usage.py."""

from __future__ import annotations

import json
from typing import Any

import click

from compiler.loop.records import RecordError, read_records

FORMAT = click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
ENDPOINT = click.option("--endpoint-url", default=None, help="S3 endpoint (an emulator).")


@click.group()
def ab() -> None:
    """A/B experiments between the spec's variants, from capture records."""


@ab.command("report")
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option(
    "--metric",
    type=click.Choice(["positive_feedback_rate", "error_rate", "latency_ms", "ttft_ms"]),
    default="positive_feedback_rate",
    show_default=True,
)
@click.option("--min-samples", type=click.IntRange(min=1), default=30, show_default=True)
@FORMAT
@ENDPOINT
def report(
    paths: tuple[str, ...], metric: str, min_samples: int, fmt: str, endpoint_url: str | None
) -> None:
    """Per-variant figures and a verdict over capture files (paths, directories, s3://)."""
    from compiler.loop.ab import report as build

    try:
        records = read_records(paths, endpoint_url)
    except (RecordError, OSError) as exc:
        raise click.UsageError(str(exc)) from None
    result = build(records, metric, min_samples)
    click.echo(json.dumps(result, indent=2, sort_keys=True) if fmt == "json" else text(result))


def text(result: dict[str, Any]) -> str:
    lines = [
        f"{'variant':<12} {'requests':>8} {'errors':>7} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'ttft p50':>8} {'tok in':>8} {'tok out':>8} {'rated':>6} {'positive (95% CI)':>22}"
    ]
    for name, v in result["variants"].items():
        rate = v["positive_feedback_rate"]
        low, high = v["positive_feedback_rate_ci95"]
        shown = "-" if rate is None else f"{rate:.1%} ({low:.1%}-{high:.1%})"
        lines.append(
            f"{name:<12} {v['requests']:>8} {v['errors']:>7} {_ms(v['latency_ms']['p50'])} "
            f"{_ms(v['latency_ms']['p95'])} {_ms(v['ttft_ms']['p50'])} "
            f"{v['prompt_tokens']:>8} {v['completion_tokens']:>8} {v['feedback']:>6} {shown:>22}"
        )
    test = f" [{result['test']}]" if result["test"] else ""
    lines.append(f"verdict: {result['verdict']}{test}")
    return "\n".join(lines)


def _ms(value: float | None) -> str:
    return f"{'-' if value is None else f'{value:.0f}':>8}"
