"""``POST /v1/chat/completions`` and ``POST /v1/completions``, streamed or not."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from runtime import structured
from runtime.auth import ANONYMOUS, KEY_ID
from runtime.engine import Event
from runtime.errors import APIError, error_body, from_validation
from runtime.protocol import ChatCompletionRequest, CompletionRequest
from runtime.sampling import SamplingParams
from runtime.service import ModelService
from runtime.structured import Plan
from runtime.text import Detokenizer, StopMatcher

log = logging.getLogger("servespec.completions")
Body = TypeVar("Body", bound=BaseModel)
GenerationBody = ChatCompletionRequest | CompletionRequest


async def chat_completions(request: Request) -> Response:
    service = ready_service(request)
    body = await parse_body(request, ChatCompletionRequest)
    check_model(service, body.model)
    assert service.codec and service.engine and service.artifact
    grammars = structured.grammars_for(service.artifact, service.engine.model.vocab)
    plan = await asyncio.to_thread(structured.plan_chat, body, grammars)
    messages = plan.messages
    try:
        # Rendering and tokenizing up to max_request_bytes of text would stall every open
        # stream if done on the event loop.
        prompt = await asyncio.to_thread(service.codec.render_chat, messages)
    except ValueError as exc:
        raise APIError(400, str(exc), param="messages", code="invalid_value") from None
    if service.settings.log_prompts:
        log.info("prompt", extra={"prompt": prompt})
    ids = await asyncio.to_thread(service.codec.encode, prompt)
    return await _respond(request, service, body, ids, chat=True, plan=plan)


async def completions(request: Request) -> Response:
    service = ready_service(request)
    body = await parse_body(request, CompletionRequest)
    check_model(service, body.model)
    assert service.codec is not None
    if service.settings.log_prompts:
        log.info("prompt", extra={"prompt": body.prompt_text()})
    ids = await asyncio.to_thread(service.codec.encode, body.prompt_text())
    if not ids:
        raise APIError(400, "prompt must not be empty", param="prompt", code="invalid_value")
    return await _respond(request, service, body, ids, chat=False)


def ready_service(request: Request) -> ModelService:
    service: ModelService = request.app.state.service
    if not service.ready:
        raise APIError(
            503,
            f"Service not ready: {service.reason}.",
            code="not_ready",
            headers={"Retry-After": "5"},
        )
    return service


async def parse_body(request: Request, model: type[Body]) -> Body:
    try:
        data = json.loads(await request.body())
    except ValueError:
        raise APIError(400, "The request body is not valid JSON.", code="invalid_json") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise from_validation(exc) from None


def check_model(service: ModelService, name: str) -> None:
    if name != service.model_name:
        raise APIError(
            404,
            f"The model '{name}' does not exist; this server serves '{service.model_name}'.",
            param="model",
            code="model_not_found",
        )


class _Call:
    """What one request did, for the response's usage and for metrics and EMF."""

    def __init__(self, request: Request, route: str, prompt_tokens: int) -> None:
        self.request, self.route = request, route
        self.id_prefix = "chatcmpl" if route == "chat" else "cmpl"
        self.id = f"{self.id_prefix}-{uuid.uuid4().hex}"
        self.created = int(time.time())
        self.started = time.perf_counter()
        self.prompt_tokens = prompt_tokens
        self.completion_tokens = 0
        self.ttft: float | None = None

    def usage(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
        }

    def finish(self, service: ModelService, status: int) -> None:
        metrics, latency = service.metrics, time.perf_counter() - self.started
        key_id = self.request.scope.get(KEY_ID, ANONYMOUS)
        metrics.requests.labels(self.route, str(status)).inc()
        metrics.latency.labels(self.route).observe(latency)
        metrics.prompt_tokens.labels(key_id).inc(self.prompt_tokens)
        metrics.generation_tokens.labels(key_id).inc(self.completion_tokens)
        if self.ttft is not None:
            metrics.ttft.observe(self.ttft)
        engine = service.engine
        metrics.emit_emf(
            latency_s=latency,
            ttft_s=self.ttft,
            queue_depth=engine.waiting if engine else 0,
            error=status >= 500,
            tokens_out=self.completion_tokens,
        )
        log.info(
            "completion",
            extra={
                "response_id": self.id,
                "status": status,
                "route": self.route,
                "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
                "ttft_ms": round(self.ttft * 1000, 1) if self.ttft is not None else None,
                "latency_ms": round(latency * 1000, 1),
            },
        )


def _token_budget(service: ModelService, body: GenerationBody, prompt_tokens: int) -> int:
    assert service.artifact is not None
    context = service.artifact.context_tokens
    requested = body.token_limit()
    wanted = requested or service.settings.max_tokens_default
    if prompt_tokens + (requested or 1) > context:
        raise APIError(
            400,
            f"This model's maximum context length is {context} tokens. However, you requested "
            f"{prompt_tokens + (requested or 0)} tokens ({prompt_tokens} in the prompt, "
            f"{requested or 0} for the completion). Please reduce the length of the prompt or "
            "the completion.",
            param="messages" if isinstance(body, ChatCompletionRequest) else "prompt",
            code="context_length_exceeded",
        )
    return min(wanted, context - prompt_tokens)


def _sampling(body: GenerationBody) -> SamplingParams:
    return SamplingParams(
        temperature=body.temperature,
        top_p=body.top_p,
        top_k=body.top_k,
        presence_penalty=body.presence_penalty,
        frequency_penalty=body.frequency_penalty,
        seed=body.seed,
    )


async def _respond(
    request: Request,
    service: ModelService,
    body: GenerationBody,
    ids: list[int],
    *,
    chat: bool,
    plan: Plan | None = None,
) -> Response:
    max_tokens = _token_budget(service, body, len(ids))
    call = _Call(request, "chat" if chat else "completions", len(ids))
    slot = contextlib.ExitStack()
    slot.enter_context(service.admit())  # raises 429/503 before any response starts
    deadline = time.monotonic() + service.settings.request_timeout_s
    grammar = plan.grammar if plan is not None else None
    events = service.generate(
        ids, max_tokens=max_tokens, params=_sampling(body), deadline=deadline, grammar=grammar
    )
    texts = _texts(service, events, body.stop_list(), call)
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        chunks = _sse(service, texts, call, chat=chat, include_usage=include_usage, plan=plan)
        return _EventStream(
            chunks,
            slot,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    with slot:
        return await _complete(service, texts, call, chat=chat, plan=plan)


async def _texts(
    service: ModelService, events: AsyncGenerator[Event, None], stops: list[str], call: _Call
) -> AsyncGenerator[tuple[str, str | None], None]:
    """Engine events → (text delta, finish reason); stop strings end the generation."""
    assert service.codec is not None
    detokenizer, matcher = Detokenizer(service.codec), StopMatcher(stops)
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
                text, hit = matcher.feed(detokenizer.push(event.token))
                if hit:
                    yield text, "stop"
                    return
            if event.finish_reason is not None:
                flushed, hit = matcher.feed(detokenizer.flush())
                tail = "" if hit else matcher.flush()
                yield text + flushed + tail, "stop" if hit else event.finish_reason
                return
            if text:
                yield text, None
    raise AssertionError("the engine ended a generation without a finish reason")


async def _complete(
    service: ModelService,
    texts: AsyncGenerator[tuple[str, str | None], None],
    call: _Call,
    *,
    chat: bool,
    plan: Plan | None = None,
) -> Response:
    watcher = asyncio.create_task(_cancel_on_disconnect(call.request, asyncio.current_task()))
    parts: list[str] = []
    finish = "stop"
    status = 200
    try:
        async with contextlib.aclosing(texts):
            async for text, reason in texts:
                parts.append(text)
                finish = reason or finish
    except TimeoutError:
        status = 504
        raise APIError(504, "The request timed out.", code="timeout") from None
    except APIError as exc:
        status = exc.status
        raise
    except asyncio.CancelledError:
        status = 499  # client closed the connection (nginx's convention)
        raise
    finally:
        watcher.cancel()
        call.finish(service, status)
    content = "".join(parts)
    if chat:
        plan = plan or Plan([])
        message, finish = plan.message(content, finish)
        choice = {
            "index": 0,
            "message": message,
            "finish_reason": finish,
            "logprobs": None,
        }
    else:
        choice = {"index": 0, "text": content, "finish_reason": finish, "logprobs": None}
    return JSONResponse(
        {
            "id": call.id,
            "object": "chat.completion" if chat else "text_completion",
            "created": call.created,
            "model": service.model_name,
            "choices": [choice],
            "usage": call.usage(),
        }
    )


async def _cancel_on_disconnect(request: Request, handler: asyncio.Task[Any] | None) -> None:
    # The body is already read, so the next message can only be the client going away;
    # cancelling the handler unwinds into the generation, which cancels the engine row.
    while (await request.receive())["type"] != "http.disconnect":
        pass
    if handler is not None:
        handler.cancel()


async def _sse(
    service: ModelService,
    texts: AsyncGenerator[tuple[str, str | None], None],
    call: _Call,
    *,
    chat: bool,
    include_usage: bool,
    plan: Plan | None = None,
) -> AsyncIterator[str]:
    kind = "chat.completion.chunk" if chat else "text_completion"
    status = 200

    def chunk(text: str | None, finish: str | None, role: bool = False, **extra: Any) -> str:
        if chat:
            delta: dict[str, Any] = {"role": "assistant"} if role else {}
            if text is not None:
                delta["content"] = text
            delta.update(extra)
            choice: dict[str, Any] = {
                "index": 0,
                "delta": delta,
                "finish_reason": finish,
                "logprobs": None,
            }
        else:
            choice = {"index": 0, "text": text or "", "finish_reason": finish, "logprobs": None}
        return _event(
            {
                "id": call.id,
                "object": kind,
                "created": call.created,
                "model": service.model_name,
                "choices": [choice],
            }
        )

    try:
        if chat:
            yield chunk("", None, role=True)
        if chat:
            deltas = (plan or Plan([])).deltas(texts)
            async with contextlib.aclosing(texts), contextlib.aclosing(deltas):
                async for delta, finish in deltas:
                    yield chunk(None, finish, **delta)
        else:
            async with contextlib.aclosing(texts):
                async for text, finish in texts:
                    if text:
                        yield chunk(text, None)
                    if finish is not None:
                        yield chunk("", finish)
        if include_usage:
            yield _event(
                {
                    "id": call.id,
                    "object": kind,
                    "created": call.created,
                    "model": service.model_name,
                    "choices": [],
                    "usage": call.usage(),
                }
            )
    except TimeoutError:
        status = 504
        yield _event(error_body(504, "The request timed out.", "timeout"))
    except APIError as exc:
        status = exc.status
        yield _event(error_body(exc.status, exc.message, exc.code))
    except asyncio.CancelledError:
        status = 499  # client closed the connection (nginx's convention)
        raise
    finally:
        call.finish(service, status)
    yield "data: [DONE]\n\n"


class _EventStream(StreamingResponse):
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


def _event(payload: dict[str, Any]) -> str:
    return f"data: {json.dumps(payload, separators=(',', ':'))}\n\n"
