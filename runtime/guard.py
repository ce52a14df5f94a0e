"""Connections that never finish a request are closed: a header deadline and a cap.

uvicorn starts no timer when a connection opens, and its keep-alive timer stops at the
first byte of the next request; a client that sends half a request line and waits holds
the connection (and a file descriptor) forever, without ever presenting a key. This h11
protocol gives every request's head ``HEADER_TIMEOUT_S`` from the connection's start or the
previous response's end, and refuses connections beyond ``max_connections``. The body's
own deadline is ``runtime.prepare.parse_body``'s (a 408).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("servespec.guard")
HEADER_TIMEOUT_S = 10.0
MAX_CONNECTIONS = 1024


class GuardedH11Protocol(H11Protocol):
    header_timeout_s = HEADER_TIMEOUT_S
    max_connections = MAX_CONNECTIONS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._in_head = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            log.warning("connection refused: %d open", len(self.connections) - 1)
            transport.abort()
            return
        # Until the first byte, the idle limit is the keep-alive one (longer than the ALB's
        # idle timeout; closing sooner makes it send requests into closed connections).
        self._arm(self.timeout_keep_alive)

    def data_received(self, data: bytes) -> None:
        if not self._in_head and (self.cycle is None or self.cycle.response_complete):
            self._in_head = True  # a request starts: its head must be complete in time
            self._arm(self.header_timeout_s)
        super().data_received(data)

    def handle_events(self) -> None:
        super().handle_events()
        if self._in_head and self.cycle is not None and not self.cycle.response_complete:
            self._in_head = False
            self._disarm()  # the whole head arrived: the app owns the rest

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        self._deadline = None
        if self.cycle is None or self.cycle.response_complete:
            log.info("connection closed: no complete request in time")
            self.transport.close()


def protocol(header_timeout_s: float, max_connections: int) -> type[GuardedH11Protocol]:
    """The protocol class with these limits (uvicorn instantiates it per connection)."""
    limits = {"header_timeout_s": header_timeout_s, "max_connections": max_connections}
    return type("ConfiguredH11Protocol", (GuardedH11Protocol,), limits)
