"""``POST /v1/chat/completions`` and ``POST /v1/completions``, streamed or not.

The route handlers: ``prepare`` checks the request and builds the prompt, ``pieces``
turns engine events into text, ``responses`` and ``streaming`` shape the answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator

from starlette.requests import Request
from starlette.responses import Response

from runtime import features, structured
from runtime.call import Call
from runtime.errors import APIError
from runtime.experiment import PROMPT_STATE
from runtime.pieces import Delta, Piece, completion_deltas, merged, texts
from runtime.prepare import (
    GenerationBody,
    chat_prompt,
    check_model,
    checked_ids,
    parse_body,
    ready_service,
    sampling,
    token_budget,
)
from runtime.protocol import ChatCompletionRequest, CompletionRequest
from runtime.responses import Shape, complete
from runtime.service import ModelService
from runtime.streaming import EventStream, sse
from runtime.structured import Plan

log = logging.getLogger("servespec.completions")


async def chat_completions(request: Request) -> Response:
    service = ready_service(request)
    body = await parse_body(request, ChatCompletionRequest)
    check_model(service, body.model)
    ignored = features.check_chat(body)
    assert service.codec and service.engine and service.artifact
    grammars = structured.grammars_for(service.artifact, service.engine.model.vocab)
    plan = await asyncio.to_thread(structured.plan_chat, body, grammars)
    prompt = await chat_prompt(service, plan.messages)
    if service.settings.log_prompts:
        log.info("prompt", extra={"prompt": prompt})
    setattr(request.state, PROMPT_STATE, prompt)
    ids = await asyncio.to_thread(service.codec.encode, prompt)
    return await _respond(request, service, body, ids, ignored=ignored, echo="", plan=plan)


async def completions(request: Request) -> Response:
    service = ready_service(request)
    body = await parse_body(request, CompletionRequest)
    check_model(service, body.model)
    ignored = features.check_completion(body)
    assert service.codec is not None
    prompt = body.prompt_value()
    if isinstance(prompt, str):
        if service.settings.log_prompts:
            log.info("prompt", extra={"prompt": prompt})
        setattr(request.state, PROMPT_STATE, prompt)
        ids = await asyncio.to_thread(service.codec.encode, prompt)
    else:
        ids = checked_ids(service, prompt)
        setattr(request.state, PROMPT_STATE, service.codec.decode(ids))
    if not ids:
        raise APIError(400, "prompt must not be empty", param="prompt", code="invalid_value")
    echo = ""
    if body.echo:
        echo = prompt if isinstance(prompt, str) else service.codec.decode(ids)
    return await _respond(request, service, body, ids, ignored=ignored, echo=echo, plan=None)


async def _respond(
    request: Request,
    service: ModelService,
    body: GenerationBody,
    ids: list[int],
    *,
    ignored: list[str],
    echo: str,
    plan: Plan | None,
) -> Response:
    max_tokens = token_budget(service, body, len(ids))
    params = sampling(service, body)
    call = Call(request, "completions" if plan is None else "chat", len(ids))
    headers = {features.IGNORED_HEADER: ",".join(ignored)} if ignored else {}
    if ignored:
        log.warning("ignored parameters", extra={"ignored": ignored, "response_id": call.id})
    slot = contextlib.ExitStack()
    slot.enter_context(service.admit())  # raises 429/503 before any response starts
    deadline = time.monotonic() + service.settings.request_timeout_s
    streams = service.generate(
        ids,
        max_tokens=max_tokens,
        params=params,
        deadline=deadline,
        grammar=plan.grammar if plan is not None else None,
        n=body.n,
        top_logprobs=body.top_logprobs_count(),
        cleanup=slot,
    )
    pieces = [texts(service, events, body.stop_list(), call) for events in streams]
    shape = Shape(service, call, plan=plan, echo=echo)
    shape.wants_logprobs = body.top_logprobs_count() is not None
    if body.stream:
        chunks = sse(
            service, _deltas(pieces, plan), shape, body.n, include_usage=body.include_usage()
        )
        headers.update({"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        return EventStream(chunks, slot, media_type="text/event-stream", headers=headers)
    with slot:
        return await complete(service, merged(pieces), shape, body.n, headers)


def _deltas(
    pieces: list[AsyncGenerator[Piece, None]], plan: Plan | None
) -> AsyncGenerator[tuple[int, Delta], None]:
    """Each choice's stream chunks (chat: through its own run of the plan), merged."""
    if plan is None:
        return merged([completion_deltas(p) for p in pieces])
    return merged([plan.deltas(p) for p in pieces])
