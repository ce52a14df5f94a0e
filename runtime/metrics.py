"""Prometheus metrics (TGI/vLLM-style names) and CloudWatch Embedded Metric Format lines.

Each app owns its registry, so two apps in one process (tests) never collide. EMF lines go
to stdout as bare JSON objects: the awslogs driver ships them and CloudWatch extracts the
metrics the Terraform alarms and scaling policies watch (namespace from settings;
dimensions ``Model``, and ``Model``+``Variant``: runtime/emf.py).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import TextIO

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from starlette.types import ASGIApp, Receive, Scope, Send

from runtime import emf
from runtime.sendwatch import WatchedSend

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64, 128)
STEP_BUCKETS = (0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12)


class Metrics:
    """One app's metrics: a private Prometheus registry plus the EMF lines for CloudWatch."""

    def __init__(self, namespace: str, model: str, emf_stream: TextIO | None = None) -> None:
        # "_created" series double the exposition and no dashboard reads them (vLLM does the
        # same); the switch is process-wide, so it is flipped where metrics are made.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.namespace, self.model = namespace, model
        self.variant = ""  # set by runtime.experiment: the A/B variant this task serves
        self.emf_stream = emf_stream or sys.stdout
        self.registry = CollectorRegistry()
        self._request_metrics(self.registry)
        self._token_metrics(self.registry)
        self._engine_metrics(self.registry)

    def _request_metrics(self, r: CollectorRegistry) -> None:
        """What callers see and say: outcomes, latency, time to first token, queueing, ratings."""
        self.requests = Counter(
            "servespec_requests", "Finished API requests.", ["route", "status"], registry=r
        )
        self.latency = Histogram(
            "servespec_request_duration_seconds",
            "End-to-end request latency.",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.ttft = Histogram(
            "servespec_time_to_first_token_seconds",
            "Time to first generated token.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.queue_time = Histogram(
            "servespec_request_queue_duration_seconds",
            "Time from admission to prefill.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.feedback = Counter(
            "servespec_feedback", "Feedback events by rating.", ["rating"], registry=r
        )

    def _token_metrics(self, r: CollectorRegistry) -> None:
        """Usage per key (what operators bill and budget on) and the prefix cache's savings."""
        self.prompt_tokens = Counter(
            "servespec_prompt_tokens", "Prompt tokens processed.", ["key_id"], registry=r
        )
        self.prefix_cache_hits = Counter(
            "servespec_prefix_cache_hit_tokens",
            "Prompt tokens whose KV came from the prefix cache instead of a prefill.",
            registry=r,
        )
        self.generation_tokens = Counter(
            "servespec_generation_tokens", "Tokens generated.", ["key_id"], registry=r
        )

    def _engine_metrics(self, r: CollectorRegistry) -> None:
        """The batcher's own health: forward-pass time and width, refusals at admission, and
        the running and waiting rows the scaling signal is made of."""
        self.step = Histogram(
            "servespec_forward_duration_seconds",
            "One model forward pass.",
            ["kind"],
            buckets=STEP_BUCKETS,
            registry=r,
        )
        self.batch_size = Histogram(
            "servespec_batch_size",
            "Rows in a forward pass.",
            ["kind"],
            buckets=(1, 2, 4, 8, 16, 32, 64),
            registry=r,
        )
        self.rejected = Counter(
            "servespec_rejected_requests",
            "Requests refused at admission.",
            ["reason"],
            registry=r,
        )
        self.running = Gauge(
            "servespec_num_requests_running", "Requests in the running batch.", registry=r
        )
        self.waiting = Gauge(
            "servespec_num_requests_waiting", "Admitted requests waiting to join.", registry=r
        )

    def watch_engine(self, running: Callable[[], int], waiting: Callable[[], int]) -> None:
        self.running.set_function(running)
        self.waiting.set_function(waiting)

    def observe_step(self, kind: str, rows: int, seconds: float) -> None:
        self.step.labels(kind).observe(seconds)
        self.batch_size.labels(kind).observe(rows)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    def emit_emf(
        self,
        *,
        latency_s: float,
        ttft_s: float | None,
        error: bool,
        tokens_out: int,
    ) -> None:
        values: dict[str, tuple[float, str]] = {
            "Latency": (latency_s * 1000, "Milliseconds"),
            "Errors": (1 if error else 0, "Count"),
            "TokensOut": (tokens_out, "Count"),
        }
        if ttft_s is not None:
            values["TimeToFirstToken"] = (ttft_s * 1000, "Milliseconds")
        self._write_emf(values, scaled=bool(self.variant))

    def emit_load(self, queue_depth: int) -> None:
        """The scaling signal, written on a timer (runtime/app.py) rather than per request:
        an idle task must still report 0, or its target-tracking alarm has no data and ECS
        never scales the service in (AWS scales in only when every policy agrees)."""
        self._write_emf({emf.QUEUE_DEPTH: (queue_depth, "Count")}, scaled=True)

    def _write_emf(self, values: dict[str, tuple[float, str]], *, scaled: bool) -> None:
        """One EMF line. Model alone: the model-wide alarms and dashboard; Model and Variant:
        each variant's own scaling (emf.scaling_dimensions, which the compiler's policy names)."""
        dimensions = emf.scaling_dimensions(self.model, self.variant or emf.DEFAULT_VARIANT)
        line = {
            "_aws": {
                "Timestamp": int(time.time() * 1000),
                "CloudWatchMetrics": [
                    {
                        "Namespace": self.namespace,
                        "Dimensions": [[emf.MODEL], list(dimensions)] if scaled else [[emf.MODEL]],
                        "Metrics": [{"Name": k, "Unit": u} for k, (_, u) in values.items()],
                    }
                ],
            },
            emf.MODEL: self.model,
            **(dimensions if scaled else {}),
            **{k: round(v, 3) for k, (v, _) in values.items()},
        }
        self.emf_stream.write(json.dumps(line) + "\n")
        self.emf_stream.flush()


COUNTED = "servespec.counted"  # scope flag: the handler already counted this request
_ROUTES = {"/v1/chat/completions": "chat", "/v1/completions": "completions"}
_PATHS = frozenset(
    {
        "/v1/models",
        "/v1/feedback",
        "/v1/tokenize",
        "/v1/detokenize",
        "/tokenize",
        "/detokenize",
        "/metrics",
        "/openapi.json",
        "/docs",
        "/healthz",
        "/readyz",
    }
)


class CountResponses:
    """Counts every response by route and status (401s, 429s, 500s included); completions
    count themselves, with the status their stream really ended with."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        watched = WatchedSend(send)
        try:
            await self.app(scope, receive, watched)
        finally:
            # Nothing sent: the client gets ContainErrors' 500.
            status = watched.status if watched.status is not None else 500
            if not scope.get(COUNTED):
                path = str(scope.get("path", ""))
                route = _ROUTES.get(path) or (path if path in _PATHS else "other")
                if path.startswith("/v1/models/"):
                    route = "/v1/models/{id}"
                self.metrics.requests.labels(route, str(status)).inc()
