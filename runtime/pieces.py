"""Engine events → text pieces per choice (stop strings applied), and the choices' pieces
merged into one stream tagged with each choice's index."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Any, TypeVar

from runtime.engine import Event
from runtime.errors import APIError
from runtime.text import Detokenizer, StopMatcher

if TYPE_CHECKING:  # runtime.service imports runtime.structured, which imports this
    from runtime.call import Call
    from runtime.service import ModelService

# A generated token, its log-probability and the top alternatives' (id, log-probability).
Token = tuple[int, float, list[tuple[int, float]]]
Item = TypeVar("Item")


@dataclasses.dataclass
class Piece:
    """What one choice produced since the last piece: text, logprobs, and maybe its end."""

    text: str
    finish: str | None
    tokens: list[Token]


@dataclasses.dataclass
class Delta:
    """One choice's next chunk: the fields it adds (chat: the ``delta``'s fields;
    completions: ``text``), its logprob tokens, and maybe its finish reason."""

    fields: dict[str, Any]
    finish: str | None
    tokens: list[Token]


async def texts(
    service: ModelService, events: AsyncGenerator[Event, None], stops: list[str], call: Call
) -> AsyncGenerator[Piece, None]:
    """Engine events → text pieces; stop strings end the generation."""
    assert service.codec is not None
    detokenizer, matcher = Detokenizer(service.codec), StopMatcher(stops)
    tokens: list[Token] = []
    async with contextlib.aclosing(events):  # leaving early cancels the engine row
        async for event in events:
            if event.error is not None:
                raise APIError(
                    500 if event.finish_reason == "error" else 503,
                    "Generation failed.",
                    code="generation_failed",
                )
            if event.finish_reason == "cancelled":
                raise APIError(503, "Generation was cancelled.", code="cancelled")
            text = ""
            if event.token is not None:
                if call.ttft is None:
                    call.ttft = time.perf_counter() - call.started
                call.completion_tokens += 1
                if event.logprob is not None:
                    tokens.append((event.token, event.logprob, event.top_logprobs or []))
                text, hit = matcher.feed(detokenizer.push(event.token))
                if hit:
                    call.parts.append(text)
                    yield Piece(text, "stop", tokens)
                    return
            if event.finish_reason is not None:
                flushed, hit = matcher.feed(detokenizer.flush())
                tail = "" if hit else matcher.flush()
                call.parts.append(text + flushed + tail)
                yield Piece(text + flushed + tail, "stop" if hit else event.finish_reason, tokens)
                return
            call.parts.append(text)
            if text or tokens:
                yield Piece(text, None, tokens)
                tokens = []
    raise AssertionError("the engine ended a generation without a finish reason")


async def completion_deltas(pieces: AsyncGenerator[Piece, None]) -> AsyncGenerator[Delta, None]:
    """A completions choice's stream chunks: its text as it comes."""
    async with contextlib.aclosing(pieces):
        async for piece in pieces:
            yield Delta({"text": piece.text} if piece.text else {}, piece.finish, piece.tokens)


async def merged(
    streams: list[AsyncGenerator[Item, None]],
) -> AsyncGenerator[tuple[int, Item], None]:
    """The choices' items as they come, tagged with the choice's index."""
    if len(streams) == 1:
        async with contextlib.aclosing(streams[0]) as only:
            async for item in only:
                yield 0, item
        return
    pending = {asyncio.ensure_future(anext(s)): i for i, s in enumerate(streams)}
    try:
        while pending:
            done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for future in done:
                index = pending.pop(future)
                try:
                    item = future.result()
                except StopAsyncIteration:
                    continue
                yield index, item
                pending[asyncio.ensure_future(anext(streams[index]))] = index
    finally:
        for future in pending:
            future.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for stream in streams:
            await stream.aclose()
