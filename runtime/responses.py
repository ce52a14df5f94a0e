"""Whole (non-streaming) responses, and the OpenAI shapes both kinds of response share."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from runtime.call import Call
from runtime.errors import APIError
from runtime.logprobs import chat_entries, completion_logprobs
from runtime.pieces import Piece, Token
from runtime.service import ModelService
from runtime.structured import Plan

log = logging.getLogger("servespec.completions")


class Shape:
    """Builds the response bodies and chunks of one call, in OpenAI's shapes.

    ``plan`` (chat only) says how a choice's text becomes its message: content, or
    tool calls.
    """

    def __init__(self, service: ModelService, call: Call, *, plan: Plan | None, echo: str) -> None:
        assert service.codec is not None
        self.call, self.plan, self.chat, self.echo = call, plan, plan is not None, echo
        self.model = service.model_name
        self.names = service.codec.token_text
        self.offsets: dict[int, int] = {}  # completions' text_offset per choice
        self.wants_logprobs = False

    def envelope(self, choices: list[dict[str, Any]], *, chunk: bool) -> dict[str, Any]:
        kind = "chat.completion" if self.chat else "text_completion"
        return {
            "id": self.call.id,
            "object": kind + ".chunk" if chunk and self.chat else kind,
            "created": self.call.created,
            "model": self.model,
            "choices": choices,
        }

    def logprobs(self, index: int, tokens: list[Token], text_before: int) -> dict[str, Any] | None:
        if not tokens:
            return None
        if self.chat:
            return {"content": chat_entries(self.names, tokens), "refusal": None}
        offset = self.offsets.get(index, text_before)
        shaped = completion_logprobs(self.names, tokens, offset)
        self.offsets[index] = offset + sum(len(t) for t in shaped["tokens"])
        return shaped

    def choice(self, index: int, content: str, finish: str, tokens: list[Token]) -> dict[str, Any]:
        """One whole choice of a non-streaming response."""
        logprobs = self.logprobs(index, tokens, len(self.echo))
        if self.plan is None:
            text = self.echo + content
            return {"index": index, "text": text, "finish_reason": finish, "logprobs": logprobs}
        if self.wants_logprobs and logprobs is None:
            logprobs = {"content": [], "refusal": None}
        message, finish = self.plan.message(content, finish)
        message = {**message, "refusal": None}
        return {"index": index, "message": message, "finish_reason": finish, "logprobs": logprobs}


async def complete(
    service: ModelService,
    pieces: AsyncGenerator[tuple[int, Piece], None],
    shape: Shape,
    n: int,
    headers: dict[str, str],
) -> Response:
    call = shape.call
    gone = asyncio.Event()
    handler = asyncio.current_task()
    watcher = asyncio.create_task(_cancel_on_disconnect(call.request, handler, gone))
    texts: list[list[str]] = [[] for _ in range(n)]
    tokens: list[list[Token]] = [[] for _ in range(n)]
    finishes = ["stop"] * n
    status = 200
    try:
        async with contextlib.aclosing(pieces):
            async for index, piece in pieces:
                texts[index].append(piece.text)
                tokens[index].extend(piece.tokens)
                finishes[index] = piece.finish or finishes[index]
    except TimeoutError:
        status = 504
        raise APIError(504, "The request timed out.", code="timeout") from None
    except APIError as exc:
        status = exc.status
        raise
    except asyncio.CancelledError:
        status = 499  # client closed the connection (nginx's convention)
        if not gone.is_set() or handler is None:
            raise
        handler.uncancel()  # our own cancellation: the client left, which is no error
        log.info("client disconnected", extra={"response_id": call.id})
        return Response(status_code=499)
    finally:
        watcher.cancel()
        call.finish(service, status)
    choices = [shape.choice(i, "".join(texts[i]), finishes[i], tokens[i]) for i in range(n)]
    body = {**shape.envelope(choices, chunk=False), "usage": call.usage()}
    return JSONResponse(body, headers=headers)


async def _cancel_on_disconnect(
    request: Request, handler: asyncio.Task[Any] | None, gone: asyncio.Event
) -> None:
    # The body is already read, so the next message can only be the client going away;
    # cancelling the handler unwinds into the generation, which cancels the engine row.
    while (await request.receive())["type"] != "http.disconnect":
        pass
    gone.set()
    if handler is not None:
        handler.cancel()
