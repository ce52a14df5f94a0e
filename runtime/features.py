"""Which OpenAI request fields this server implements, ignores, or refuses.

Every field of OpenAI's chat and completions request schemas is accepted at its null or
default value (SDKs and frameworks send those on every call). A field whose value asks for
something this server does not do is refused with a 400 that names it, never silently
dropped; a few whose effect is only a hint are ignored, and the response says so in the
``X-Servespec-Ignored`` header (and the log). The README's capability table mirrors this.

Structured outputs and tools (``response_format``, ``tools``, ``tool_choice``) are
implemented by ``runtime.structured``, which ``completions`` calls after these checks.
"""

from __future__ import annotations

from typing import Any

from runtime.errors import APIError
from runtime.protocol import ChatCompletionRequest, CompletionRequest

IGNORED_HEADER = "X-Servespec-Ignored"


def unsupported(param: str, why: str) -> APIError:
    return APIError(
        400,
        f"Unsupported parameter: '{param}' {why}",
        param=param,
        code="unsupported_parameter",
    )


def check_chat(body: ChatCompletionRequest) -> list[str]:
    """Refuse what is really requested and not implemented; the names of ignored fields."""
    _check_common(body)
    if body.tool_choice not in (None, "none", "auto") and not body.tools:
        raise APIError(
            400,
            "tool_choice other than 'none' or 'auto' is only allowed when tools are given.",
            param="tool_choice",
            code="invalid_value",
        )
    if body.functions or body.function_call not in (None, "none", "auto"):
        raise unsupported("functions", "(legacy function calling) is not supported; use tools.")
    if body.modalities not in (None, ["text"]):
        raise unsupported("modalities", "other than ['text'] is not supported.")
    refused = {
        "audio": "(audio output) is not supported.",
        "reasoning_effort": "is not supported with this model.",
        "verbosity": "is not supported with this model.",
        "web_search_options": "(web search) is not supported.",
    }
    for name, why in refused.items():
        if getattr(body, name) is not None:
            raise unsupported(name, why)
    if body.top_logprobs is not None and not body.logprobs:
        raise APIError(
            400,
            "top_logprobs requires logprobs to be true.",
            param="top_logprobs",
            code="invalid_value",
        )
    return _ignored(body, prediction=body.prediction is not None)


def check_completion(body: CompletionRequest) -> list[str]:
    _check_common(body)
    if body.best_of is not None and body.best_of != body.n:
        raise unsupported("best_of", "other than n is not supported (no server-side ranking).")
    if body.suffix:
        raise unsupported("suffix", "(insertion) is not supported by this model.")
    if body.echo and body.logprobs is not None:
        raise unsupported("echo", "together with logprobs is not supported (prompt logprobs).")
    return _ignored(body)


def _check_common(body: ChatCompletionRequest | CompletionRequest) -> None:
    if body.stream_options is not None and not body.stream:
        raise APIError(
            400,
            "stream_options is only allowed when stream is true.",
            param="stream_options",
            code="invalid_value",
        )


def _ignored(body: ChatCompletionRequest | CompletionRequest, **extra: bool) -> list[str]:
    """Hints with no effect here: no stored completions, one service tier."""
    hints: dict[str, Any] = {
        "store": body.store,
        "service_tier": body.service_tier not in (None, "auto", "default"),
        "prompt_cache_retention": body.prompt_cache_retention,
    }
    names = [name for name, value in {**hints, **extra}.items() if value]
    return names


def logit_bias(body: ChatCompletionRequest | CompletionRequest, vocab: int) -> dict[int, float]:
    """``logit_bias`` as token id → bias, every id checked against the vocabulary."""
    bias: dict[int, float] = {}
    for key, value in (body.logit_bias or {}).items():
        token = int(key)
        if token >= vocab:
            raise APIError(
                400,
                f"logit_bias: token id {token} is outside the vocabulary (0..{vocab - 1}).",
                param="logit_bias",
                code="invalid_value",
            )
        bias[token] = value
    return bias
