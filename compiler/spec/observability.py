"""The spec's `observability` section: log retention, alarms, dashboard and capture."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

from .base import LOG_RETENTION_DAYS, Email, Strict


class Alarms(Strict):
    p99_latency_ms: Annotated[int, Field(ge=10, le=600000)] = 2000
    error_rate_percent: Annotated[float, Field(gt=0, le=100)] = 1.0
    ttft_p95_ms: Annotated[int, Field(ge=10, le=600000)] = 1500
    """Time to first token (from the runtime's own metrics)."""
    queue_depth: Annotated[int, Field(ge=1, le=100000)] = 16
    notify: Annotated[list[Email], Field(min_length=1)]
    """Email addresses subscribed to the alarm topic."""


def _retention(value: int) -> int:
    if value not in LOG_RETENTION_DAYS:
        allowed = ", ".join(map(str, LOG_RETENTION_DAYS))
        raise ValueError(f"CloudWatch accepts only {allowed}")
    return value


class Capture(Strict):
    """Request and feedback records written to S3 for A/B reports, usage and fine-tuning."""

    enabled: bool = False
    """Write JSON Lines batches of request and feedback records to the capture bucket."""
    sample_percent: Annotated[int, Field(ge=1, le=100)] = 100
    """Share of requests recorded (feedback is always recorded for a sampled response)."""
    retention_days: Annotated[int, Field(ge=1, le=3650)] = 90
    """Days before S3 lifecycle deletes a capture batch."""
    keep_text: bool = False
    """Also keep prompt and completion text (personal data: under hipaa only with a waiver
    for SSP_CAPTURE_001)."""


class Observability(Strict):
    log_retention_days: Annotated[
        int, AfterValidator(_retention), Field(json_schema_extra={"enum": list(LOG_RETENTION_DAYS)})
    ] = 365
    """CloudWatch Logs retention in days; one of CloudWatch's allowed values."""
    alarms: Alarms
    dashboard: bool = True
    capture: Capture = Capture()
    """Request/feedback capture for `servespec ab report`, `usage` and `model finetune`."""
