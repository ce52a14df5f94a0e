"""Turning a request into what the engine runs: a checked body, prompt ids, a token budget
and sampling parameters. Everything here fails with a 4xx before a slot is taken."""

from __future__ import annotations

import asyncio
import logging
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from runtime import features, jsonbody
from runtime.errors import APIError, from_validation
from runtime.protocol import ChatCompletionRequest, CompletionRequest
from runtime.sampling import SamplingParams
from runtime.service import ModelService

log = logging.getLogger("servespec.completions")
Body = TypeVar("Body", bound=BaseModel)
GenerationBody = ChatCompletionRequest | CompletionRequest


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


async def chat_prompt(service: ModelService, messages: list[dict[str, str]]) -> str:
    """The rendered chat prompt; a 400 for text that forges a turn or a bad template."""
    assert service.codec is not None
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
        return await asyncio.to_thread(service.codec.render_chat, messages)
    except ValueError as exc:
        raise APIError(400, str(exc), param="messages", code="invalid_value") from None


def checked_ids(service: ModelService, ids: list[int]) -> list[int]:
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


def token_budget(service: ModelService, body: GenerationBody, prompt_tokens: int) -> int:
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


def sampling(service: ModelService, body: GenerationBody) -> SamplingParams:
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
