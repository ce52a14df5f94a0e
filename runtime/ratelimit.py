"""Per-key request rate limits (token buckets), answered with 429 and ``Retry-After``."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from runtime.asgi import send_error
from runtime.auth import ANONYMOUS, KEY_ID


class TokenBucket:
    """``rate_per_minute`` requests per minute, bursts up to the same number."""

    def __init__(self, rate_per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(rate_per_minute)
        self.per_second = rate_per_minute / 60.0
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """Spend one token; returns 0 on success, else seconds until one is available."""
        with self._lock:
            now = self.clock()
            tokens, last = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.per_second)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.per_second


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, bucket: TokenBucket, prefix: str = "/v1/") -> None:
        self.app, self.bucket, self.prefix = app, bucket, prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(self.prefix):
            wait = self.bucket.take(scope.get(KEY_ID, ANONYMOUS))
            if wait > 0:
                await send_error(
                    send,
                    429,
                    "Rate limit exceeded for this API key.",
                    "rate_limit_exceeded",
                    {"Retry-After": str(max(1, math.ceil(wait)))},
                )
                return
        await self.app(scope, receive, send)
