"""Each service scales on the queue depth its own runtime writes (issue 15).

The generated target-tracking policy of every service (each A/B variant's, the DR region's)
names a metric by namespace, name and dimensions. A real runtime, started with the
variables that service's task definition sets, answers a real request and writes its EMF
line; CloudWatch publishes the line's metrics under each of its dimension sets, so the
policy's set must be one of them, with the same values, and no two services of a region
may track the same series.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pygohcl
import pytest

from compiler.spec import ResolvedSpec
from compiler.terraform.plan import plan
from compiler.terraform.stack import container, regional, scaling
from runtime.settings import Settings
from tests.runtime.conftest import API_KEY, free_port, running
from tests.terraform.support import artifacts, environments

# Variables that only make sense in AWS: the artifact and keys come from the test, and
# capture would upload to a bucket this machine cannot reach.
LOCAL = ("SERVESPEC_ARTIFACT", "SERVESPEC_API_KEYS_SECRET", "SERVESPEC_CACHE_DIR")


@pytest.mark.parametrize(("example", "env"), [("assistant", "staging"), ("clinical-notes", "prod")])
def test_each_services_policy_tracks_the_queue_its_runtime_writes(
    example: str,
    env: str,
    tiny_artifact: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    spec = next(s for s in environments(example) if s.environment == env)
    metrics = _queue_metrics(example, env)
    tracked: dict[str, list[str]] = {}
    for where, fleet in regional.fleets(plan(spec)):
        for variant in fleet.variants:
            place = container.place(spec, where, fleet, variant)
            environment = container.environment(
                spec, place.artifact, variant.model_version, place.variant
            )
            for name in [name for name in os.environ if name.startswith("SERVESPEC_")]:
                monkeypatch.delenv(name)  # the task's variables only, not the last one's
            for name, value in _task_environment(environment).items():
                monkeypatch.setenv(name, value)
            metric = metrics[f"{scaling.Scaled(where, fleet, variant).label}_queue"]
            line = _served_line(spec, tiny_artifact, metric["metric_name"], capsys)
            directive = _directive(line)
            wanted = {d["name"]: d["value"] for d in _listed(metric["dimensions"])}
            assert directive["Namespace"] == metric["namespace"]
            assert list(wanted) in directive["Dimensions"]
            assert {name: line[name] for name in wanted} == wanted
            tracked.setdefault(where.name, []).append(json.dumps(wanted, sort_keys=True))
    assert len(tracked) == len(regional.fleets(plan(spec)))
    for series in tracked.values():
        assert len(series) == len(set(series))
        assert all('"Variant"' in wanted for wanted in series)


def _served_line(
    spec: ResolvedSpec, artifact: Path, metric: str, capsys: pytest.CaptureFixture[str]
) -> dict[str, Any]:
    """The one EMF line naming ``metric`` that a runtime configured from the environment
    writes for one real completion."""
    settings = Settings.from_env(
        artifact=str(artifact),
        host="127.0.0.1",
        port=free_port(),
        api_keys=(API_KEY,),
        threads=2,
        metrics_port=0,
    )
    capsys.readouterr()
    with running(settings) as live, live.http() as http:
        body = {"model": spec.model.name, "prompt": "Hello", "max_tokens": 2}
        assert http.post("/v1/completions", json=body).status_code == 200
    lines = [
        line
        for line in _emf_lines(capsys.readouterr().out)
        if metric in {m["Name"] for m in _directive(line)["Metrics"]}
    ]
    assert lines, f"the runtime wrote no {metric} line"
    return lines[-1]


def test_an_idle_runtime_keeps_reporting_its_queue(
    tiny_artifact: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Target tracking scales in only when every policy's alarm has data saying so: a task
    that reported its queue only per finished request would leave an idle service at its
    peak size. The runtime writes the queue depth on a timer, requests or not."""
    settings = Settings(
        artifact=str(tiny_artifact),
        host="127.0.0.1",
        port=free_port(),
        api_keys=(API_KEY,),
        threads=2,
        metrics_port=0,
        load_report_s=0.2,
    )
    capsys.readouterr()
    with running(settings) as live, live.http() as http:
        assert http.get("/readyz").status_code == 200
        time.sleep(1.5)
    depths = [
        line["QueueDepth"] for line in _emf_lines(capsys.readouterr().out) if "QueueDepth" in line
    ]
    assert len(depths) >= 4
    assert set(depths) == {0}


def _queue_metrics(example: str, env: str) -> dict[str, dict[str, Any]]:
    """The customized metric of every ``*_queue`` policy of one generated root, by label."""
    prefix = f"generated/{example}/{env}/terraform/"
    found = {}
    for artifact in artifacts(example):
        if artifact.path.startswith(prefix) and artifact.path.endswith(".tf"):
            policies = pygohcl.loads(artifact.content).get("resource", {})
            for label, body in policies.get("aws_appautoscaling_policy", {}).items():
                if label.endswith("_queue"):
                    tracking = body["target_tracking_scaling_policy_configuration"]
                    found[label] = tracking["customized_metric_specification"]
    return found


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _task_environment(values: list[Any]) -> dict[str, str]:
    return {
        item["name"]: item["value"]
        for item in values
        if isinstance(item["value"], str)
        and item["name"] not in LOCAL
        and not item["name"].startswith("SERVESPEC_CAPTURE_")
    }


def _directive(line: dict[str, Any]) -> dict[str, Any]:
    (directive,) = line["_aws"]["CloudWatchMetrics"]
    return directive  # type: ignore[no-any-return]


def _emf_lines(text: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    return [line for line in lines if "_aws" in line]
