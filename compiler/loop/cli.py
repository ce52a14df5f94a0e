"""`servespec ab report`, `eval` and `usage`: thin click layers over the loop modules."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
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


@click.command("eval")
@click.argument("target")
@click.option("--suite", "suite_path", type=click.Path(path_type=Path), default=None,
              help="Suite file (default: the spec's deployment.eval.suite).")  # fmt: skip
@click.option("--spec", "spec_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--env", "env", default=None, help="Environment of --spec.")
@click.option("--baseline", default=None, help="Artifact or URL of the model in service.")
@click.option("--max-regression", type=click.FloatRange(0, 1), default=None)
@click.option("--min-score", type=click.FloatRange(0, 1), default=None)
@click.option("--api-key-env", default="SERVESPEC_API_KEY", show_default=True,
              help="Variable holding the API key for URL targets.")  # fmt: skip
@FORMAT
def evaluate(
    target: str,
    suite_path: Path | None,
    spec_path: Path | None,
    env: str | None,
    baseline: str | None,
    max_regression: float | None,
    min_score: float | None,
    api_key_env: str,
    fmt: str,
) -> None:
    """Score TARGET (artifact directory or endpoint URL) on a suite; exit 1 if the gate fails."""
    from compiler.loop.evaluate import EvalError, gate, open_target, run
    from compiler.loop.suite import SuiteError, load_suite

    policy = _eval_policy(spec_path, env)
    suite_path = suite_path or (Path(policy.suite) if policy else None)
    if suite_path is None:
        raise click.UsageError("give --suite, or --spec whose deployment.eval names a suite")
    key = os.environ.get(api_key_env)
    try:
        suite = load_suite(suite_path)
        base = None
        if baseline is not None:
            with open_target(baseline, key) as endpoint:
                base = run(suite, endpoint, None)
        references = {c["id"]: c["answer"] for c in base["cases"]} if base else None
        with open_target(target, key) as endpoint:
            result = run(suite, endpoint, references)
    except SuiteError as exc:
        raise click.UsageError(str(exc)) from None
    except EvalError as exc:
        click.echo(f"servespec eval: {exc}", err=True)
        sys.exit(1)
    regression = _first(max_regression, policy.max_regression if policy else None, 0.0)
    floor = _first(min_score, policy.min_score if policy else None, 0.0)
    ok, reason = gate(result["score"], base["score"] if base else None, regression, floor)
    result.update(baseline_score=base["score"] if base else None, passed=ok, verdict=reason)
    if fmt == "json":
        click.echo(json.dumps(result, indent=2, sort_keys=True))
    else:
        for case in result["cases"]:
            failed = ", ".join(name for name, good in case["checks"].items() if not good)
            click.echo(
                f"{case['id']:<24} {case['score']:.2f}  {('failed: ' + failed) if failed else 'ok'}"
            )
        click.echo(f"eval: {'PASSED' if ok else 'REFUSED'}: {reason}")
    sys.exit(0 if ok else 1)


def _first(*values: float | None) -> float:
    return next(v for v in values if v is not None)


def _eval_policy(spec_path: Path | None, env: str | None) -> Any:
    if spec_path is None:
        return None
    from compiler.spec import SpecError, load_spec

    try:
        loaded = load_spec(spec_path)
        resolved = loaded.resolve(env) if env else loaded.environments[0]
    except SpecError as exc:
        raise click.UsageError(str(exc)) from None
    return resolved.deployment.eval


@click.command("usage")
@click.argument("spec_path", metavar="SPEC", type=click.Path(exists=True, dir_okay=False))
@click.option("--env", "env", required=True, help="Environment of SPEC.")
@click.option("--source", type=click.Choice(["cloudwatch", "capture"]), default="cloudwatch",
              show_default=True)  # fmt: skip
@click.option("--capture", "capture_uri", default=None,
              help="Capture records (default: the environment's capture bucket).")  # fmt: skip
@click.option("--days", type=click.IntRange(1, 455), default=30, show_default=True)
@FORMAT
@ENDPOINT
def usage(
    spec_path: str,
    env: str,
    source: str,
    capture_uri: str | None,
    days: int,
    fmt: str,
    endpoint_url: str | None,
) -> None:
    """Requests and tokens per API key id of one environment."""
    import datetime as dt

    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from compiler.loop import usage as usage_module
    from compiler.spec import SpecError, load_spec

    try:
        spec = load_spec(Path(spec_path)).resolve(env)
    except SpecError as exc:
        raise click.UsageError(str(exc)) from None
    try:
        if source == "cloudwatch":
            client = boto3.client("cloudwatch", region_name=spec.region, endpoint_url=endpoint_url)
            # Up to the end of the current minute: CloudWatch's periods start on whole minutes.
            now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
            now += dt.timedelta(minutes=1)
            rows = usage_module.from_cloudwatch(client, spec.metrics_namespace, now, days)
            where = f"CloudWatch {spec.metrics_namespace}, last {days} days"
        else:
            where = capture_uri or _capture_uri(spec, endpoint_url)
            rows = usage_module.from_records(read_records([where], endpoint_url))
    except (BotoCoreError, ClientError, RecordError) as exc:
        click.echo(f"servespec usage: {exc}", err=True)
        sys.exit(1)
    if fmt == "json":
        click.echo(json.dumps({"source": where, "keys": rows}, indent=2, sort_keys=True))
    else:
        click.echo(usage_module.text(rows, where))


def _capture_uri(spec: Any, endpoint_url: str | None) -> str:
    """The environment's capture bucket, as experiment.tf names it (account from STS)."""
    import boto3

    if not spec.observability.capture.enabled:
        raise click.UsageError(f"observability.capture is off in {spec.environment}")
    sts = boto3.client("sts", region_name=spec.region, endpoint_url=endpoint_url)
    account = sts.get_caller_identity()["Account"]
    return f"s3://{spec.metadata.name}-{spec.environment}-capture-{account}/capture/"
