"""Request and feedback capture: JSON Lines batches in S3, for A/B reports, usage, tuning.

A request record is written for a sampled share of finished requests, a feedback record
for every accepted ``/v1/feedback``. Records are buffered and a background thread writes
them as one object per batch (``<prefix>/variant=<v>/date=<d>/<time>-<task>-<n>.jsonl``),
encrypted under the deployment's KMS key, so a request never waits on S3. Text is kept only
when ``SERVESPEC_CAPTURE_KEEP_TEXT`` says so (the spec forbids it under hipaa unless waived).

Feedback must name a response this task issued: ids are remembered (bounded) with the
variant that answered, so the feedback record carries the variant without a join.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import os
import threading
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger("servespec.capture")
MAX_BUFFERED = 50_000  # records kept while S3 is unreachable; older ones are dropped
REMEMBERED_RESPONSES = 100_000


@dataclasses.dataclass(frozen=True)
class CaptureSettings:
    uri: str = ""  # s3://bucket/prefix or a local directory; empty: capture is off
    sample_percent: int = 100
    keep_text: bool = False
    kms_key_id: str | None = None
    flush_s: float = 60.0
    s3_endpoint_url: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> CaptureSettings:
        env = os.environ if env is None else env
        try:
            percent = int(env.get("SERVESPEC_CAPTURE_SAMPLE_PERCENT", "100"))
            flush_s = float(env.get("SERVESPEC_CAPTURE_FLUSH_S", "60"))
        except ValueError as exc:
            raise ValueError(f"SERVESPEC_CAPTURE_*: {exc}") from None
        if not 1 <= percent <= 100 or flush_s <= 0:
            raise ValueError("SERVESPEC_CAPTURE_SAMPLE_PERCENT is 1..100, FLUSH_S positive")
        return cls(
            uri=env.get("SERVESPEC_CAPTURE_URI", ""),
            sample_percent=percent,
            keep_text=env.get("SERVESPEC_CAPTURE_KEEP_TEXT", "").lower() in ("1", "true", "yes"),
            kms_key_id=env.get("SERVESPEC_CAPTURE_KMS_KEY_ID") or None,
            flush_s=flush_s,
            s3_endpoint_url=env.get("SERVESPEC_S3_ENDPOINT_URL") or None,
        )


class Sink(Protocol):
    def put(self, name: str, data: bytes) -> None: ...


class S3Sink:
    """One object per batch, SSE-KMS with the deployment's key (the bucket policy demands it)."""

    def __init__(self, uri: str, kms_key_id: str | None, endpoint_url: str | None) -> None:
        import boto3  # only tasks that capture pay for the import

        self.bucket, _, self.prefix = uri.removeprefix("s3://").partition("/")
        self.kms_key_id = kms_key_id
        self.client = boto3.client("s3", endpoint_url=endpoint_url)

    def put(self, name: str, data: bytes) -> None:
        extra: dict[str, str] = {"ServerSideEncryption": "aws:kms"}
        if self.kms_key_id:
            extra["SSEKMSKeyId"] = self.kms_key_id
        key = f"{self.prefix.strip('/')}/{name}".lstrip("/")
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data, **extra)


class DirSink:
    """Local runs and tests: the same layout under a directory, written atomically."""

    def __init__(self, root: str) -> None:
        self.root = Path(root)

    def put(self, name: str, data: bytes) -> None:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        partial.write_bytes(data)
        partial.replace(path)


def sink_for(settings: CaptureSettings) -> Sink | None:
    if not settings.uri:
        return None
    if settings.uri.startswith("s3://"):
        return S3Sink(settings.uri, settings.kms_key_id, settings.s3_endpoint_url)
    return DirSink(settings.uri)


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def sampled(response_id: str, percent: int) -> bool:
    digest = hashlib.sha256(response_id.encode()).digest()
    return int.from_bytes(digest[:4], "big") % 100 < percent


class Recorder:
    """Remembers issued response ids and buffers records until the next flush."""

    def __init__(self, settings: CaptureSettings, variant: str, model_version: str) -> None:
        self.settings, self.variant, self.model_version = settings, variant, model_version
        self.sink = sink_for(settings)
        self.task = uuid.uuid4().hex[:12]
        self._responses: OrderedDict[str, str] = OrderedDict()
        self._buffer: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._batches = 0
        self.dropped = 0

    @property
    def enabled(self) -> bool:
        return self.sink is not None

    def start(self) -> None:
        if self.sink is not None and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="capture", daemon=True)
            self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
        self.flush()

    def remember(self, response_id: str) -> None:
        with self._lock:
            self._responses[response_id] = self.variant
            if len(self._responses) > REMEMBERED_RESPONSES:
                self._responses.popitem(last=False)

    def variant_of(self, response_id: str) -> str | None:
        with self._lock:
            return self._responses.get(response_id)

    def request(self, record: dict[str, Any], prompt: str | None, completion: str) -> None:
        """A finished request: remembered for feedback; recorded if capture samples it."""
        self.remember(record["id"])
        if self.sink is None or not sampled(record["id"], self.settings.sample_percent):
            return
        full = {
            "type": "request",
            "time": now_iso(),
            "variant": self.variant,
            "model_version": self.model_version,
            **record,
        }
        if self.settings.keep_text:
            full["prompt"], full["completion"] = prompt, completion
        self._add(full)

    def feedback(self, response_id: str, rating: int, comment: str | None, key_id: str) -> bool:
        """Record a rating; False when this task never issued the response id."""
        variant = self.variant_of(response_id)
        if variant is None:
            return False
        if self.sink is not None:
            record = {"type": "feedback", "id": response_id, "time": now_iso(), "rating": rating}
            record["comment"] = comment if self.settings.keep_text else None
            self._add({**record, "variant": variant, "key_id": key_id})
        return True

    def _add(self, record: dict[str, Any]) -> None:
        with self._lock:
            self._buffer.append(record)
            if len(self._buffer) > MAX_BUFFERED:
                del self._buffer[0]
                self.dropped += 1

    def flush(self) -> None:
        """Write the buffered records as one batch; on failure keep them for the next try."""
        with self._lock:
            records, self._buffer = self._buffer, []
        if not records or self.sink is None:
            return
        stamp = dt.datetime.now(dt.UTC)
        self._batches += 1
        name = (
            f"variant={self.variant}/date={stamp:%Y-%m-%d}/"
            f"{stamp:%H%M%S}-{self.task}-{self._batches:06d}.jsonl"
        )
        data = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records)
        try:
            self.sink.put(name, data.encode())
        except Exception as exc:  # S3 down or denied: keep serving, retry later
            log.error("capture batch not written; will retry: %s", exc)
            with self._lock:
                self._buffer[:0] = records

    def _run(self) -> None:
        while not self._stop.wait(self.settings.flush_s):
            self.flush()
