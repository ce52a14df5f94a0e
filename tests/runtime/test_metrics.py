from __future__ import annotations

import io
import json
import logging

from runtime.logs import JsonFormatter, request_id
from runtime.metrics import Metrics


def test_emf_line_declares_the_alarm_metrics() -> None:
    stream = io.StringIO()
    metrics = Metrics("servespec/assistant", "smollm2", emf_stream=stream)
    metrics.emit_emf(latency_s=1.5, ttft_s=0.25, error=False, tokens_out=42)
    line = json.loads(stream.getvalue())
    directive = line["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "servespec/assistant"
    assert directive["Dimensions"] == [["Model"]]
    names = {m["Name"]: m["Unit"] for m in directive["Metrics"]}
    assert names == {
        "Latency": "Milliseconds",
        "TimeToFirstToken": "Milliseconds",
        "Errors": "Count",
        "TokensOut": "Count",
    }
    assert (line["Model"], line["Latency"], line["TimeToFirstToken"]) == ("smollm2", 1500, 250)
    assert (line["Errors"], line["TokensOut"]) == (0, 42)


def test_the_load_line_carries_the_scaling_series_even_without_a_variant() -> None:
    """The queue depth is what ECS scales on: it always names Model and Variant (the
    default variant when the spec has no split), the series the compiler's policy tracks."""
    stream = io.StringIO()
    Metrics("servespec/assistant", "smollm2", emf_stream=stream).emit_load(2)
    line = json.loads(stream.getvalue())
    directive = line["_aws"]["CloudWatchMetrics"][0]
    assert directive["Dimensions"] == [["Model"], ["Model", "Variant"]]
    assert directive["Metrics"] == [{"Name": "QueueDepth", "Unit": "Count"}]
    assert (line["Model"], line["Variant"], line["QueueDepth"]) == ("smollm2", "default", 2)


def test_two_apps_do_not_share_a_registry() -> None:
    a, b = Metrics("n", "m"), Metrics("n", "m")
    a.requests.labels("chat", "200").inc()
    assert b'servespec_requests_total{route="chat",status="200"} 1.0' in a.exposition()
    assert b"servespec_requests_total{" not in b.exposition()


def test_json_log_lines_carry_the_request_id_and_fields() -> None:
    record = logging.LogRecord("servespec.test", logging.INFO, __file__, 1, "done", None, None)
    record.status = 200
    token = request_id.set("rid-1")
    try:
        line = json.loads(JsonFormatter().format(record))
    finally:
        request_id.reset(token)
    assert line["request_id"] == "rid-1" and line["status"] == 200
    assert line["message"] == "done" and line["level"] == "INFO"
    assert line["time"].endswith("Z")
