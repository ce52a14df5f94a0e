"""Failed authentication is throttled per client: guessing keys costs time, not just 401s.

Each client (the address the load balancer saw: the last ``X-Forwarded-For`` entry, which
the ALB appends; else the socket's peer) may fail ``failures_per_minute`` times, refilled
continuously; past that, every request from it is a 429 with ``Retry-After`` until the
allowance refills, whatever key it sends. The table of clients is bounded (oldest first out).
"""

from __future__ import annotations

import collections
import math
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runtime.asgi import header, send_error

MAX_CLIENTS = 10_000


class AuthThrottleMiddleware:
    def __init__(self, app: ASGIApp, failures_per_minute: int, public: frozenset[str]) -> None:
        self.app, self.public = app, public
        self.capacity = float(failures_per_minute)
        self.rate = failures_per_minute / 60.0  # allowance regained per second
        self._clients: collections.OrderedDict[str, tuple[float, float]] = collections.OrderedDict()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.public:
            await self.app(scope, receive, send)
            return
        client = _client(scope)
        allowance = self._allowance(client)
        if allowance < 1:
            wait = math.ceil((1 - allowance) / self.rate)
            await send_error(
                send,
                429,
                "Too many failed authentication attempts; retry later.",
                "auth_throttled",
                {"Retry-After": str(wait)},
            )
            return
        failed = False

        async def watching_send(message: Message) -> None:
            nonlocal failed
            if message["type"] == "http.response.start" and message["status"] == 401:
                failed = True
            await send(message)

        await self.app(scope, receive, watching_send)
        if failed:
            self._clients[client] = (allowance - 1, time.monotonic())
            self._clients.move_to_end(client)
            while len(self._clients) > MAX_CLIENTS:
                self._clients.popitem(last=False)

    def _allowance(self, client: str) -> float:
        tokens, since = self._clients.get(client, (self.capacity, time.monotonic()))
        return min(self.capacity, tokens + (time.monotonic() - since) * self.rate)


def _client(scope: Scope) -> str:
    forwarded = header(scope, b"x-forwarded-for")
    if forwarded:
        return forwarded.rsplit(",", 1)[-1].strip()
    peer = scope.get("client")
    return str(peer[0]) if peer else "unknown"
