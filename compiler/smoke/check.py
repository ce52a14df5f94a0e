"""The deploy smoke test: what a client sees, through the official `openai` client.

The deploy workflow runs `servespec smoke` after each deploy and `servespec rehearse` runs
the same function against the rehearsal container, so the two can never drift apart.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

PROMPT = "What is the capital of France? Answer in one sentence."


class SmokeFailed(Exception):
    """The endpoint did not answer as an OpenAI-compatible API must."""


@dataclass
class SmokeResult:
    checks: list[tuple[str, float]] = field(default_factory=list)  # (check, seconds)


def _client(base_url: str, key: str, connect_to: str | None = None) -> Any:
    import openai

    from compiler.smoke.connect import http_client

    return openai.OpenAI(
        base_url=base_url.rstrip("/") + "/v1",
        api_key=key,
        max_retries=0,
        http_client=http_client(connect_to, 120.0),
    )


def run(
    base_url: str, key: str, model: str, timeout_s: float = 120.0, connect_to: str | None = None
) -> SmokeResult:
    """Models list, a chat completion, a streamed one, and a refused wrong key."""
    import openai

    client = _client(base_url, key, connect_to).with_options(timeout=timeout_s)
    result = SmokeResult()

    def check(name: str, action: Any) -> None:
        start = time.monotonic()
        try:
            action()
        except openai.OpenAIError as exc:
            raise SmokeFailed(f"{name}: {type(exc).__name__}: {exc}") from None
        result.checks.append((name, time.monotonic() - start))

    check("models", lambda: _models(client, model))
    check("chat", lambda: _chat(client, model))
    check("chat stream", lambda: _stream(client, model))
    check("wrong key refused", lambda: _refused(base_url, connect_to))
    return result


def _models(client: Any, model: str) -> None:
    ids = [m.id for m in client.models.list()]
    if model not in ids:
        raise SmokeFailed(f"models: {model!r} not served (got {ids})")


def _chat(client: Any, model: str) -> None:
    reply = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": PROMPT}], max_tokens=32
    )
    choice = reply.choices[0]
    if not (choice.message.content or "").strip() or choice.finish_reason is None:
        raise SmokeFailed(f"chat: empty answer (finish_reason {choice.finish_reason})")
    if reply.usage is None or reply.usage.completion_tokens < 1:
        raise SmokeFailed("chat: no usage reported")


def _stream(client: Any, model: str) -> None:
    stream = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": PROMPT}], max_tokens=32, stream=True
    )
    text, finish = [], None
    for chunk in stream:
        for choice in chunk.choices:
            text.append(choice.delta.content or "")
            finish = choice.finish_reason or finish
    if not "".join(text).strip() or finish is None:
        raise SmokeFailed(f"chat stream: {len(text)} chunks, finish_reason {finish}")


def _refused(base_url: str, connect_to: str | None) -> None:
    import openai

    wrong = _client(base_url, "sk-not-a-key", connect_to)
    try:
        wrong.models.list()
    except openai.AuthenticationError:
        return
    raise SmokeFailed("a wrong API key was accepted")
