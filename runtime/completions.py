"""``POST /v1/chat/completions`` and ``POST /v1/completions``, streamed or not."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
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

from runtime import features, jsonbody
from runtime.auth import ANONYMOUS, KEY_ID
from runtime.engine import Event
from runtime.errors import APIError, error_body, from_validation
from runtime.experiment import PROMPT_STATE, Experiment
from runtime.logprobs import chat_entries, completion_logprobs
from runtime.metrics import COUNTED
from runtime.protocol import ChatCompletionRequest, CompletionRequest
from runtime.sampling import SamplingParams
from runtime.service import ModelService
from runtime.text import Detokenizer, StopMatcher

log = logging.getLogger("servespec.completions")
Body = TypeVar("Body", bound=BaseModel)
GenerationBody = ChatCompletionRequest | CompletionRequest


async def chat_completions(request: Request) -> Response:
    service = ready_service(request)
    body = await parse_body(request, ChatCompletionRequest)
    check_model(service, body.model)
    ignored = features.check_chat(body)
    assert service.codec is not None
    messages = [{"role": m.role, "content": m.text()} for m in body.messages]
    forged = service.codec.forged_control(messages)
    if forged is not None:
        where, token = forged
        raise APIError(
            400,
            f"messages.{where}: the text holds the model's control token {token!r}, which "
            "would let it forge a conversation turn; remove it.",
            param=f"messages.{where}",
            code="invalid_value",
        )
    try:
        # Rendering and tokenizing up to max_request_bytes of text would stall every open
        # stream if done on the event loop.
        prompt = await asyncio.to_thread(service.codec.render_chat, messages)
    except ValueError as exc:
        raise APIError(400, str(exc), param="messages", code="invalid_value") from None
    if service.settings.log_prompts:
        log.info("prompt", extra={"prompt": prompt})
    setattr(request.state, PROMPT_STATE, prompt)
    ids = await asyncio.to_thread(service.codec.encode, prompt)
    return await _respond(request, service, body, ids, ignored=ignored, echo="")


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
        ids = _checked_ids(service, prompt)
        setattr(request.state, PROMPT_STATE, service.codec.decode(ids))
    if not ids:
        raise APIError(400, "prompt must not be empty", param="prompt", code="invalid_value")
    echo = ""
    if body.echo:
        echo = prompt if isinstance(prompt, str) else service.codec.decode(ids)
    return await _respond(request, service, body, ids, ignored=ignored, echo=echo)


def _checked_ids(service: ModelService, ids: list[int]) -> list[int]:
    assert service.codec is not None
    vocab = service.codec.vocab_size
    if any(token >= vocab for token in ids):
        raise APIError(
            400,
            f"prompt: token ids must be below the vocabulary size {vocab}.",
            param="prompt",
            code="invalid_value",
        )
    return ids


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
    # A body that trickles in must not hold the connection open past the request timeout.
    limit = request.app.state.service.settings.request_timeout_s
    try:
        async with asyncio.timeout(limit):
            raw = await request.body()
    except TimeoutError:
        raise APIError(408, "The request body did not arrive in time.", code="timeout") from None
    data = jsonbody.decode(raw)
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
        self.parts: list[str] = []  # completion text, for capture

    def usage(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
        }

    def finish(self, service: ModelService, status: int) -> None:
        metrics, latency = service.metrics, time.perf_counter() - self.started
        key_id = self.request.scope.get(KEY_ID, ANONYMOUS)
        self.request.scope[COUNTED] = True
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
        experiment: Experiment = self.request.app.state.experiment
        experiment.finished(self, status, latency)


def _token_budget(service: ModelService, body: GenerationBody, prompt_tokens: int) -> int:
    assert service.artifact is not None
    context = service.artifact.context_tokens
    requested = body.token_limit()
    cap = service.settings.max_output_tokens
    if cap and requested is not None and requested > cap:
        param = "max_tokens" if isinstance(body, CompletionRequest) else "max_completion_tokens"
        raise APIError(
            400,
            f"{param}: at most {cap} output tokens per request (model.max_output_tokens).",
            param=param,
            code="invalid_value",
        )
    wanted = requested or service.settings.max_tokens_default
    if cap:
        wanted = min(wanted, cap)
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


def _sampling(service: ModelService, body: GenerationBody) -> SamplingParams:
    assert service.codec is not None
    return SamplingParams(
        temperature=body.temperature,
        top_p=body.top_p,
        top_k=body.top_k,
        presence_penalty=body.presence_penalty,
        frequency_penalty=body.frequency_penalty,
        seed=body.seed,
        logit_bias=features.logit_bias(body, service.codec.vocab_size) or None,
    )


@dataclasses.dataclass
class _Piece:
    """What one choice produced since the last piece: text, logprobs, and maybe its end."""

    text: str
    finish: str | None
    tokens: list[tuple[int, float, list[tuple[int, float]]]]


async def _respond(
    request: Request,
    service: ModelService,
    body: GenerationBody,
    ids: list[int],
    *,
    ignored: list[str],
    echo: str,
) -> Response:
    chat = isinstance(body, ChatCompletionRequest)
    max_tokens = _token_budget(service, body, len(ids))
    params = _sampling(service, body)
    call = _Call(request, "chat" if chat else "completions", len(ids))
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
        n=body.n,
        top_logprobs=body.top_logprobs_count(),
        cleanup=slot,
    )
    texts = [_texts(service, events, body.stop_list(), call) for events in streams]
    shape = _Shape(service, call, chat=chat, echo=echo)
    shape.wants_logprobs = body.top_logprobs_count() is not None
    if body.stream:
        chunks = _sse(service, _merged(texts), shape, body.n, include_usage=body.include_usage())
        headers.update({"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        return _EventStream(chunks, slot, media_type="text/event-stream", headers=headers)
    with slot:
        return await _complete(service, _merged(texts), shape, body.n, headers)


async def _texts(
    service: ModelService, events: AsyncGenerator[Event, None], stops: list[str], call: _Call
) -> AsyncGenerator[_Piece, None]:
    """Engine events → text pieces; stop strings end the generation."""
    assert service.codec is not None
    detokenizer, matcher = Detokenizer(service.codec), StopMatcher(stops)
    tokens: list[tuple[int, float, list[tuple[int, float]]]] = []
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
                    yield _Piece(text, "stop", tokens)
                    return
            if event.finish_reason is not None:
                flushed, hit = matcher.feed(detokenizer.flush())
                tail = "" if hit else matcher.flush()
                call.parts.append(text + flushed + tail)
                yield _Piece(text + flushed + tail, "stop" if hit else event.finish_reason, tokens)
                return
            call.parts.append(text)
            if text or tokens:
                yield _Piece(text, None, tokens)
                tokens = []
    raise AssertionError("the engine ended a generation without a finish reason")


async def _merged(
    texts: list[AsyncGenerator[_Piece, None]],
) -> AsyncGenerator[tuple[int, _Piece], None]:
    """The choices' pieces as they come, tagged with the choice's index."""
    if len(texts) == 1:
        async with contextlib.aclosing(texts[0]) as only:
            async for piece in only:
                yield 0, piece
        return
    pending = {asyncio.ensure_future(anext(t)): i for i, t in enumerate(texts)}
    try:
        while pending:
            done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for future in done:
                index = pending.pop(future)
                try:
                    piece = future.result()
                except StopAsyncIteration:
                    continue
                yield index, piece
                pending[asyncio.ensure_future(anext(texts[index]))] = index
    finally:
        for future in pending:
            future.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for text in texts:
            await text.aclose()


class _Shape:
    """Builds the response bodies and chunks of one call, in OpenAI's shapes."""

    def __init__(self, service: ModelService, call: _Call, *, chat: bool, echo: str) -> None:
        assert service.codec is not None
        self.call, self.chat, self.echo = call, chat, echo
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

    def logprobs(self, index: int, piece: _Piece, text_before: int) -> dict[str, Any] | None:
        if not piece.tokens:
            return None
        if self.chat:
            return {"content": chat_entries(self.names, piece.tokens), "refusal": None}
        offset = self.offsets.get(index, text_before)
        shaped = completion_logprobs(self.names, piece.tokens, offset)
        self.offsets[index] = offset + sum(len(t) for t in shaped["tokens"])
        return shaped


async def _complete(
    service: ModelService,
    pieces: AsyncGenerator[tuple[int, _Piece], None],
    shape: _Shape,
    n: int,
    headers: dict[str, str],
) -> Response:
    call = shape.call
    gone = asyncio.Event()
    handler = asyncio.current_task()
    watcher = asyncio.create_task(_cancel_on_disconnect(call.request, handler, gone))
    texts: list[list[str]] = [[] for _ in range(n)]
    tokens: list[list[tuple[int, float, list[tuple[int, float]]]]] = [[] for _ in range(n)]
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
    choices = []
    for i in range(n):
        content = "".join(texts[i])
        logprobs = shape.logprobs(i, _Piece("", None, tokens[i]), len(shape.echo))
        if shape.wants_logprobs and logprobs is None:
            logprobs = {"content": [], "refusal": None} if shape.chat else None
        if shape.chat:
            message = {"role": "assistant", "content": content, "refusal": None}
            choices.append(
                {"index": i, "message": message, "finish_reason": finishes[i], "logprobs": logprobs}
            )
        else:
            text = shape.echo + content
            choices.append(
                {"index": i, "text": text, "finish_reason": finishes[i], "logprobs": logprobs}
            )
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


async def _sse(
    service: ModelService,
    pieces: AsyncGenerator[tuple[int, _Piece], None],
    shape: _Shape,
    n: int,
    *,
    include_usage: bool,
) -> AsyncIterator[str]:
    call, chat = shape.call, shape.chat
    status = 200
    extra: dict[str, Any] = {"usage": None} if include_usage else {}

    def chunk(
        index: int, text: str | None, finish: str | None, logprobs: Any = None, role: bool = False
    ) -> str:
        if chat:
            delta: dict[str, str] = {"role": "assistant"} if role else {}
            if text is not None:
                delta["content"] = text
            choice: dict[str, Any] = {"index": index, "delta": delta}
        else:
            choice = {"index": index, "text": text or ""}
        choice.update(finish_reason=finish, logprobs=logprobs)
        return _event({**shape.envelope([choice], chunk=True), **extra})

    try:
        for index in range(n):
            if chat:
                yield chunk(index, "", None, role=True)
            elif shape.echo:
                yield chunk(index, shape.echo, None)
        async with contextlib.aclosing(pieces):
            async for index, piece in pieces:
                logprobs = shape.logprobs(index, piece, len(shape.echo))
                if piece.text or logprobs is not None:
                    yield chunk(index, piece.text, None, logprobs)
                if piece.finish is not None:
                    yield chunk(index, None if chat else "", piece.finish)
        if include_usage:
            yield _event({**shape.envelope([], chunk=True), "usage": call.usage()})
    except TimeoutError:
        status = 504
        yield _event(error_body(504, "The request timed out.", "timeout"))
    except APIError as exc:
        status = exc.status
        yield _event(error_body(exc.status, exc.message, exc.code))
    except asyncio.CancelledError:
        status = 499  # client closed the connection (nginx's convention)
        log.info("client disconnected", extra={"response_id": call.id})
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
