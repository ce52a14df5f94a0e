"""Reject request bodies over the configured size with 413, before they are buffered."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runtime.asgi import header, send_error
from runtime.sendwatch import WatchedSend


class BodyTooLarge(Exception):
    pass


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._reject(send)
            return
        seen = 0

        async def limited_receive() -> Message:
            # Chunked bodies carry no length: count what actually arrives.
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge
            return message

        watched = WatchedSend(send)
        try:
            await self.app(scope, limited_receive, watched)
        except BodyTooLarge:
            if not watched.started:
                await self._reject(send)

    async def _reject(self, send: Send) -> None:
        message = f"Request body exceeds {self.max_bytes} bytes."
        await send_error(send, 413, message, "request_too_large")
