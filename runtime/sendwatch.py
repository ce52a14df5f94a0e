"""The one wrapper our pure-ASGI middlewares put around `send`.

A middleware may answer an error itself only while the response has not started (after
that the status line is on the wire), and the access log needs the status the response
started with, and so does the response counter; each used to write its own closure over
`send` for that. `WatchedSend` remembers the start and can add headers to it (the request
id).
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.types import Message, Send


class WatchedSend:
    """An ASGI send that passes every message on and notes how the response started."""

    def __init__(self, send: Send, headers: Sequence[tuple[bytes, bytes]] = ()) -> None:
        self.send, self.headers = send, list(headers)
        self.status: int | None = None  # None until the response starts

    @property
    def started(self) -> bool:
        return self.status is not None

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = int(message["status"])
            if self.headers:
                # A new list: the app may reuse the one it sent.
                message["headers"] = [*message.get("headers", []), *self.headers]
        await self.send(message)
