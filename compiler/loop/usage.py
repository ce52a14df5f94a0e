"""`servespec usage`: requests and tokens per API key id, from capture or CloudWatch.

Capture records carry the key id of every sampled request; CloudWatch holds the runtime's
``Requests``/``TokensIn``/``TokensOut`` metrics by ``KeyId`` (extracted from its EMF lines),
which count every request whatever the capture sampling.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from compiler.loop.records import Record

METRICS = {"Requests": "requests", "TokensIn": "prompt_tokens", "TokensOut": "completion_tokens"}


def from_records(records: list[Record]) -> dict[str, dict[str, int]]:
    usage: dict[str, dict[str, int]] = defaultdict(
        lambda: {"requests": 0, "prompt_tokens": 0, "completion_tokens": 0}
    )
    for record in records:
        if record["type"] != "request":
            continue
        row = usage[str(record.get("key_id") or "anonymous")]
        row["requests"] += 1
        row["prompt_tokens"] += int(record.get("prompt_tokens") or 0)
        row["completion_tokens"] += int(record.get("completion_tokens") or 0)
    return dict(sorted(usage.items()))


def from_cloudwatch(
    client: Any, namespace: str, end: dt.datetime, days: int
) -> dict[str, dict[str, int]]:
    """Sums over the last ``days`` for every KeyId that has the runtime's usage metrics."""
    start = end - dt.timedelta(days=days)
    pages = client.get_paginator("list_metrics").paginate(
        Namespace=namespace, MetricName="Requests"
    )
    keys = sorted(
        {d["Value"] for page in pages for m in page["Metrics"] for d in m["Dimensions"]
         if d["Name"] == "KeyId"}
    )  # fmt: skip
    usage: dict[str, dict[str, int]] = {}
    for key in keys:
        usage[key] = {
            field: _sum(client, namespace, metric, key, start, end)
            for metric, field in METRICS.items()
        }
    return usage


def _sum(
    client: Any, namespace: str, metric: str, key: str, start: dt.datetime, end: dt.datetime
) -> int:
    period = max(60, int((end - start).total_seconds()) // 60 * 60)
    answer = client.get_metric_statistics(
        Namespace=namespace,
        MetricName=metric,
        Dimensions=[{"Name": "KeyId", "Value": key}],
        StartTime=start,
        EndTime=end,
        Period=period,
        Statistics=["Sum"],
    )
    return int(sum(point["Sum"] for point in answer["Datapoints"]))


def text(usage: dict[str, dict[str, int]], source: str) -> str:
    lines = [f"{'key id':<16} {'requests':>10} {'tokens in':>12} {'tokens out':>12}"]
    for key, row in usage.items():
        lines.append(
            f"{key:<16} {row['requests']:>10} {row['prompt_tokens']:>12} "
            f"{row['completion_tokens']:>12}"
        )
    total = {f: sum(r[f] for r in usage.values()) for f in METRICS.values()}
    lines.append(
        f"{'total':<16} {total['requests']:>10} {total['prompt_tokens']:>12} "
        f"{total['completion_tokens']:>12}"
    )
    lines.append(f"source: {source}")
    return "\n".join(lines)
