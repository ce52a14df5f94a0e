"""Server-sent event responses: one chunk per choice's delta, then usage and ``[DONE]``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from runtime.errors import APIError, error_body
from runtime.pieces import Delta
from runtime.responses import Shape
from runtime.service import ModelService

log = logging.getLogger("servespec.completions")


def _chunk(
    shape: Shape,
    index: int,
    fields: dict[str, Any],
    finish: str | None,
    logprobs: Any = None,
    extra: dict[str, Any] | None = None,
) -> str:
    if shape.chat:
        choice: dict[str, Any] = {"index": index, "delta": fields}
    else:
        choice = {"index": index, "text": fields.get("text", "")}
    choice.update(finish_reason=finish, logprobs=logprobs)
    return event({**shape.envelope([choice], chunk=True), **(extra or {})})


async def sse(
    service: ModelService,
    deltas: AsyncGenerator[tuple[int, Delta], None],
    shape: Shape,
    n: int,
    *,
    include_usage: bool,
) -> AsyncIterator[str]:
    call = shape.call
    status = 200
    extra: dict[str, Any] = {"usage": None} if include_usage else {}
    try:
        for index in range(n):
            if shape.chat:
                yield _chunk(shape, index, {"role": "assistant", "content": ""}, None, None, extra)
            elif shape.echo:
                yield _chunk(shape, index, {"text": shape.echo}, None, None, extra)
        async with contextlib.aclosing(deltas):
            async for index, delta in deltas:
                logprobs = shape.logprobs(index, delta.tokens, len(shape.echo))
                if delta.fields or logprobs is not None:
                    yield _chunk(shape, index, delta.fields, None, logprobs, extra)
                if delta.finish is not None:
                    yield _chunk(shape, index, {}, delta.finish, None, extra)
        if include_usage:
            yield event({**shape.envelope([], chunk=True), "usage": call.usage()})
    except TimeoutError:
        status = 504
        yield event(error_body(504, "The request timed out.", "timeout"))
    except APIError as exc:
        status = exc.status
        yield event(error_body(exc.status, exc.message, exc.code))
    except asyncio.CancelledError:
        status = 499  # client closed the connection (nginx's convention)
        log.info("client disconnected", extra={"response_id": call.id})
        raise
    finally:
        call.finish(service, status)
    yield "data: [DONE]\n\n"


class EventStream(StreamingResponse):
    """Releases the request's admission slot however the stream ends.

    A client that leaves before the first chunk means the body generator never starts, so
    its own ``finally`` never runs; this does.
    """

    def __init__(self, content: AsyncIterator[str], slot: contextlib.ExitStack, **kwargs: Any):
        super().__init__(content, **kwargs)
        self.slot = slot

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.slot.close()


def event(payload: dict[str, Any]) -> str:
    return f"data: {json.dumps(payload, separators=(',', ':'))}\n\n"
