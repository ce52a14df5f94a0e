"""What the learning loop needs from each request: variant, usage per key, capture.

``Experiment`` is created once per app (``app.state.experiment``) and told about every
finished request and every feedback. It counts requests and tokens per key id and per
variant (Prometheus, and an EMF line with a ``KeyId`` dimension that ``servespec usage``
reads back from CloudWatch), and hands the records to the capture recorder.
"""

from __future__ import annotations

import json
import time
from typing import Any, Protocol

from prometheus_client import Counter
from starlette.requests import Request

from runtime.auth import ANONYMOUS, KEY_ID
from runtime.capture import CaptureSettings, Recorder
from runtime.metrics import Metrics
from runtime.variants import VariantSettings

PROMPT_STATE = "servespec_prompt"  # request.state attribute holding the rendered prompt


class FinishedCall(Protocol):
    """The parts of ``call.Call`` a record is made of."""

    request: Request
    id: str
    route: str
    prompt_tokens: int
    completion_tokens: int
    ttft: float | None
    parts: list[str]


class Experiment:
    def __init__(
        self, variant: VariantSettings, capture: CaptureSettings, metrics: Metrics
    ) -> None:
        self.variant = variant
        self.metrics = metrics
        self.recorder = Recorder(capture, variant.name, variant.model_version)
        metrics.variant = variant.name
        r = metrics.registry
        self.variant_requests = Counter(
            "servespec_variant_requests",
            "Finished API requests by A/B variant.",
            ["variant", "status"],
            registry=r,
        )
        self.key_requests = Counter(
            "servespec_key_requests", "Finished API requests by key id.", ["key_id"], registry=r
        )
        self.variant_feedback = Counter(
            "servespec_variant_feedback",
            "Accepted feedback by variant and rating.",
            ["variant", "rating"],
            registry=r,
        )

    def finished(self, call: FinishedCall, status: int, latency_s: float) -> None:
        key_id = call.request.scope.get(KEY_ID, ANONYMOUS)
        self.variant_requests.labels(self.variant.name, str(status)).inc()
        self.key_requests.labels(key_id).inc()
        self._emit_usage(key_id, call.prompt_tokens, call.completion_tokens)
        record: dict[str, Any] = {
            "id": call.id,
            "route": call.route,
            "key_id": key_id,
            "status": status,
            "prompt_tokens": call.prompt_tokens,
            "completion_tokens": call.completion_tokens,
            "ttft_ms": round(call.ttft * 1000, 1) if call.ttft is not None else None,
            "latency_ms": round(latency_s * 1000, 1),
        }
        prompt = getattr(call.request.state, PROMPT_STATE, None)
        self.recorder.request(record, prompt, "".join(call.parts))

    def feedback(self, response_id: str, rating: int, comment: str | None, key_id: str) -> bool:
        accepted = self.recorder.feedback(response_id, rating, comment, key_id)
        if accepted:
            variant = self.recorder.variant_of(response_id) or self.variant.name
            self.variant_feedback.labels(variant, str(rating)).inc()
        return accepted

    def _emit_usage(self, key_id: str, tokens_in: int, tokens_out: int) -> None:
        """One EMF line per request: Requests, TokensIn, TokensOut by KeyId (few keys)."""
        values = {"Requests": 1, "TokensIn": tokens_in, "TokensOut": tokens_out}
        line = {
            "_aws": {
                "Timestamp": int(time.time() * 1000),
                "CloudWatchMetrics": [
                    {
                        "Namespace": self.metrics.namespace,
                        "Dimensions": [["KeyId"]],
                        "Metrics": [{"Name": k, "Unit": "Count"} for k in values],
                    }
                ],
            },
            "KeyId": key_id,
            **values,
        }
        self.metrics.emf_stream.write(json.dumps(line) + "\n")
        self.metrics.emf_stream.flush()
