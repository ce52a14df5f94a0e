"""What one completion request did: its id, timings and token counts, reported once it
ends to the response's usage, Prometheus, EMF, the log and the experiment recorder."""

from __future__ import annotations

import logging
import time
import uuid

from starlette.requests import Request

from runtime.auth import ANONYMOUS, KEY_ID
from runtime.experiment import Experiment
from runtime.metrics import COUNTED
from runtime.service import ModelService

log = logging.getLogger("servespec.completions")


class Call:
    """What one request did, for the response's usage and for metrics and EMF."""

    def __init__(self, request: Request, route: str, prompt_tokens: int) -> None:
        self.request, self.route = request, route
        self.id_prefix = "chatcmpl" if route == "chat" else "cmpl"
        self.id = f"{self.id_prefix}-{uuid.uuid4().hex}"
        self.created = int(time.time())
        self.started = time.perf_counter()
        self.prompt_tokens = prompt_tokens
        self.completion_tokens = 0
        self.ttft: float | None = None
        self.parts: list[str] = []  # completion text, for capture

    def usage(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
        }

    def finish(self, service: ModelService, status: int) -> None:
        metrics, latency = service.metrics, time.perf_counter() - self.started
        key_id = self.request.scope.get(KEY_ID, ANONYMOUS)
        self.request.scope[COUNTED] = True
        metrics.requests.labels(self.route, str(status)).inc()
        metrics.latency.labels(self.route).observe(latency)
        metrics.prompt_tokens.labels(key_id).inc(self.prompt_tokens)
        metrics.generation_tokens.labels(key_id).inc(self.completion_tokens)
        if self.ttft is not None:
            metrics.ttft.observe(self.ttft)
        metrics.emit_emf(
            latency_s=latency,
            ttft_s=self.ttft,
            error=status >= 500,
            tokens_out=self.completion_tokens,
        )
        log.info(
            "completion",
            extra={
                "response_id": self.id,
                "status": status,
                "route": self.route,
                "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
                "ttft_ms": round(self.ttft * 1000, 1) if self.ttft is not None else None,
                "latency_ms": round(latency * 1000, 1),
            },
        )
        experiment: Experiment = self.request.app.state.experiment
        experiment.finished(self, status, latency)
