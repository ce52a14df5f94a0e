"""JSON log lines on stdout, each carrying the request id of the request that wrote it."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
import uuid

from starlette.types import ASGIApp, Receive, Scope, Send

from runtime.asgi import header
from runtime.auth import KEY_ID
from runtime.sendwatch import WatchedSend

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
access = logging.getLogger("servespec.access")
# uvicorn adds "color_message" (ANSI-coloured duplicate of the message) to its records.
_RESERVED = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "color_message"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = request_id.get()
        if rid:
            line["request_id"] = rid
        # Structured fields passed with ``extra=`` become top-level keys.
        line.update({k: v for k, v in vars(record).items() if k not in _RESERVED})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


JsonFormatter.converter = time.gmtime


def configure(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # Our access log replaces uvicorn's (it has the request id and key id, never a body).
    logging.getLogger("uvicorn.access").disabled = True


class RequestContextMiddleware:
    """Assigns the request id (or keeps a sane caller-supplied one) and logs one access line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = header(scope, b"x-request-id")
        rid = incoming if incoming and len(incoming) <= 128 and incoming.isprintable() else None
        rid = rid or uuid.uuid4().hex
        token = request_id.set(rid)
        started = time.perf_counter()
        watched = WatchedSend(send, [(b"x-request-id", rid.encode())])
        try:
            await self.app(scope, receive, watched)
        finally:
            access.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    # Nothing sent: ContainErrors (outside this layer) answers 500.
                    "status": watched.status or 500,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                    "key_id": scope.get(KEY_ID),
                },
            )
            request_id.reset(token)
