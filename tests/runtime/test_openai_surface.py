"""OpenAI's request schema as SDKs and frameworks send it, and the capabilities behind it.

On the tiny fused artifact (the production batch layout), through the official ``openai``
client (sync, async, streaming) and LangChain's OpenAI integrations.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.runtime import builders
from tests.runtime.conftest import API_KEY, LiveServer, running, settings_for

HI = [{"role": "user", "content": "Tell me about the sea."}]


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    settings = settings_for(builders.tiny_fused_artifact(), max_output_tokens=64)
    with running(settings) as live:
        yield live


@pytest.fixture(scope="module")
def model(server: LiveServer) -> str:
    return server.service.model_name


# Every field of OpenAI's chat request at its null or default value.
CHAT_DEFAULTS: dict[str, Any] = {
    "audio": None,
    "frequency_penalty": 0,
    "function_call": None,
    "functions": None,
    "logit_bias": {},
    "logprobs": False,
    "max_completion_tokens": None,
    "max_tokens": 8,
    "metadata": {"team": "a"},
    "modalities": ["text"],
    "n": 1,
    "parallel_tool_calls": None,
    "prediction": None,
    "presence_penalty": None,
    "prompt_cache_key": None,
    "reasoning_effort": None,
    "response_format": {"type": "text"},
    "safety_identifier": None,
    "seed": None,
    "service_tier": "auto",
    "stop": None,
    "store": False,
    "stream": False,
    "stream_options": None,
    "temperature": None,
    "tool_choice": "none",
    "tools": None,
    "top_logprobs": None,
    "top_p": None,
    "user": None,
    "verbosity": None,
    "web_search_options": None,
}
COMPLETION_DEFAULTS: dict[str, Any] = {
    "best_of": 1,
    "echo": False,
    "frequency_penalty": None,
    "logit_bias": None,
    "logprobs": None,
    "max_tokens": 8,
    "n": None,
    "presence_penalty": 0,
    "seed": None,
    "stop": None,
    "stream": False,
    "stream_options": None,
    "suffix": None,
    "temperature": 1,
    "top_p": 1,
    "user": None,
}


def test_every_chat_field_at_its_default_is_accepted(server: LiveServer, model: str) -> None:
    body = {"model": model, "messages": HI, **CHAT_DEFAULTS}
    response = server.http().post("/v1/chat/completions", json=body)
    assert response.status_code == 200, response.text
    assert "X-Servespec-Ignored" not in response.headers


def test_every_completion_field_at_its_default_is_accepted(server: LiveServer, model: str) -> None:
    body = {"model": model, "prompt": "Once upon a time", **COMPLETION_DEFAULTS}
    response = server.http().post("/v1/completions", json=body)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("functions", [{"name": "f", "parameters": {}}]),
        ("audio", {"voice": "alloy", "format": "wav"}),
        ("modalities", ["text", "audio"]),
        ("reasoning_effort", "high"),
        ("web_search_options", {}),
    ],
)
def test_requested_features_we_lack_are_refused_by_name(
    server: LiveServer, model: str, field: str, value: object
) -> None:
    response = server.http().post(
        "/v1/chat/completions", json={"model": model, "messages": HI, field: value}
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "unsupported_parameter" and error["param"] == field
    assert field in error["message"]


def test_tool_choice_that_needs_tools_is_refused_without_them(
    server: LiveServer, model: str
) -> None:
    body = {"model": model, "messages": HI, "tool_choice": "required"}
    response = server.http().post("/v1/chat/completions", json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "tool_choice" and error["code"] == "invalid_value"


@pytest.mark.parametrize(("field", "value"), [("best_of", 3), ("suffix", "end")])
def test_completion_features_we_lack_are_refused_by_name(
    server: LiveServer, model: str, field: str, value: object
) -> None:
    body = {"model": model, "prompt": "x", field: value}
    response = server.http().post("/v1/completions", json=body)
    assert response.status_code == 400 and response.json()["error"]["param"] == field


def test_hints_without_effect_are_named_in_a_header(server: LiveServer, model: str) -> None:
    body = {"model": model, "messages": HI, "max_tokens": 2, "store": True, "service_tier": "flex"}
    response = server.http().post("/v1/chat/completions", json=body)
    assert response.status_code == 200
    assert response.headers["X-Servespec-Ignored"] == "store,service_tier"


def test_models_retrieve_and_its_404(server: LiveServer, model: str) -> None:
    client = server.client()
    assert client.models.retrieve(model).id == model
    with pytest.raises(openai.NotFoundError) as caught:
        client.models.retrieve("gpt-4o")
    assert caught.value.status_code == 404
    error = caught.value.body
    assert isinstance(error, dict) and error["code"] == "model_not_found"


def test_n_choices_share_the_prompt_and_count_their_tokens(server: LiveServer, model: str) -> None:
    client = server.client()
    reply = client.chat.completions.create(
        model=model, messages=HI, n=3, temperature=0, max_tokens=6
    )  # type: ignore[call-overload]
    assert [c.index for c in reply.choices] == [0, 1, 2]
    texts = {c.message.content for c in reply.choices}
    assert len(texts) == 1  # greedy: identical choices
    assert reply.usage is not None and reply.usage.completion_tokens == 3 * 6
    seeded = client.chat.completions.create(
        model=model, messages=HI, n=3, temperature=1, seed=7, max_tokens=12
    )
    assert len({c.message.content for c in seeded.choices}) > 1  # each its own draw
    again = client.chat.completions.create(
        model=model, messages=HI, n=1, temperature=1, seed=7, max_tokens=12
    )
    assert again.choices[0].message.content == seeded.choices[0].message.content


def test_streamed_n_choices_equal_the_plain_ones(server: LiveServer, model: str) -> None:
    client = server.client()
    plain = client.chat.completions.create(
        model=model, messages=HI, n=2, temperature=1, seed=3, max_tokens=10
    )
    parts: dict[int, list[str]] = {0: [], 1: []}
    usage = None
    for chunk in client.chat.completions.create(
        model=model,
        messages=HI,
        n=2,
        temperature=1,
        seed=3,
        max_tokens=10,
        stream=True,
        stream_options={"include_usage": True},
    ):
        for choice in chunk.choices:
            parts[choice.index].append(choice.delta.content or "")
        usage = chunk.usage or usage
    assert ["".join(parts[i]) for i in (0, 1)] == [c.message.content for c in plain.choices]
    assert usage is not None and usage.completion_tokens == plain.usage.completion_tokens  # type: ignore[union-attr]


def test_chat_logprobs_and_top_logprobs(server: LiveServer, model: str) -> None:
    reply = server.client().chat.completions.create(
        model=model, messages=HI, temperature=0, max_tokens=5, logprobs=True, top_logprobs=3
    )
    content = reply.choices[0].logprobs.content  # type: ignore[union-attr]
    assert content is not None and len(content) == 5
    for entry in content:
        assert entry.logprob <= 0 and len(entry.top_logprobs) == 3
        # Greedy: the chosen token is the most likely one.
        assert entry.top_logprobs[0].token == entry.token
        assert math.isclose(entry.top_logprobs[0].logprob, entry.logprob)
    assert "".join(e.token for e in content) == reply.choices[0].message.content


def test_completion_logprobs_and_echo(server: LiveServer, model: str) -> None:
    client = server.client()
    reply = client.completions.create(
        model=model, prompt="The sea is", max_tokens=4, temperature=0, logprobs=2
    )
    logprobs = reply.choices[0].logprobs
    assert logprobs is not None and len(logprobs.tokens or []) == 4
    assert all(len(top) == 2 for top in logprobs.top_logprobs or [])
    assert (logprobs.text_offset or [])[0] == 0
    echoed = client.completions.create(
        model=model, prompt="The sea is", max_tokens=4, temperature=0, echo=True
    )
    assert echoed.choices[0].text == "The sea is" + reply.choices[0].text


def test_token_id_prompts_answer_like_text(server: LiveServer, model: str) -> None:
    http = server.http()
    ids = http.post("/tokenize", json={"model": model, "prompt": "The sea is"}).json()
    assert ids["count"] == len(ids["tokens"]) > 0
    text = http.post("/detokenize", json={"model": model, "tokens": ids["tokens"]}).json()
    assert text == {"prompt": "The sea is"}
    client = server.client()
    by_text = client.completions.create(
        model=model, prompt="The sea is", max_tokens=5, temperature=0
    )
    by_ids = client.completions.create(
        model=model, prompt=ids["tokens"], max_tokens=5, temperature=0
    )
    assert by_ids.choices[0].text == by_text.choices[0].text


def test_logit_bias_steers_sampling(server: LiveServer, model: str) -> None:
    http = server.http()
    token = http.post("/tokenize", json={"model": model, "prompt": " blue"}).json()["tokens"][0]
    reply = server.client().chat.completions.create(
        model=model, messages=HI, max_tokens=4, temperature=0, logit_bias={str(token): 100}
    )
    assert reply.choices[0].message.content == " blue" * 4
    bad = http.post(
        "/v1/chat/completions",
        json={"model": model, "messages": HI, "logit_bias": {"99999999": 1}},
    )
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "logit_bias"


def test_max_output_tokens_is_enforced(server: LiveServer, model: str) -> None:
    client = server.client()
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=model, messages=HI, max_tokens=65)
    assert "max_output_tokens" in str(caught.value)
    reply = client.completions.create(model=model, prompt="x", max_tokens=64, temperature=0)
    assert reply.usage is not None and reply.usage.completion_tokens <= 64


def test_async_client_and_streaming(server: LiveServer, model: str) -> None:
    async def main() -> tuple[str, str]:
        client = openai.AsyncOpenAI(base_url=server.url + "/v1", api_key=API_KEY, max_retries=0)
        plain = await client.chat.completions.create(
            model=model, messages=HI, temperature=0, max_tokens=8
        )
        parts = []
        stream = await client.chat.completions.create(
            model=model, messages=HI, temperature=0, max_tokens=8, stream=True
        )
        async for chunk in stream:
            parts.extend(c.delta.content or "" for c in chunk.choices)
        await client.close()
        return str(plain.choices[0].message.content), "".join(parts)

    plain, streamed = asyncio.run(main())
    assert plain == streamed and plain


def test_langchain_chat_and_completions(server: LiveServer, model: str) -> None:
    langchain_openai = pytest.importorskip("langchain_openai")
    common: dict[str, Any] = {
        "model": model,
        "base_url": server.url + "/v1",
        "api_key": API_KEY,
        "max_retries": 0,
        "temperature": 0,
        "max_tokens": 8,
    }
    chat = langchain_openai.ChatOpenAI(**common)
    answer = chat.invoke("Tell me about the sea.")
    streamed = "".join(str(part.content) for part in chat.stream("Tell me about the sea."))
    assert answer.content and streamed == answer.content
    # The completions class sends logprobs: null, best_of: 1 and friends on every call.
    llm = langchain_openai.OpenAI(**common)
    text = llm.invoke("Once upon a time")
    assert text and "".join(llm.stream("Once upon a time")) == text


def test_unknown_fields_are_still_refused(server: LiveServer, model: str) -> None:
    response = httpx.post(
        server.url + "/v1/chat/completions",
        json={"model": model, "messages": HI, "frobnicate": 1},
        headers={"Authorization": f"Bearer {API_KEY}"},
    )
    assert response.status_code == 400 and response.json()["error"]["param"] == "frobnicate"


def test_litellm_chat_and_streaming(server: LiveServer, model: str) -> None:
    litellm = pytest.importorskip("litellm")
    common: dict[str, Any] = {
        "model": "openai/" + model,  # litellm's prefix for any OpenAI-compatible server
        "api_base": server.url + "/v1",
        "api_key": API_KEY,
        "messages": HI,
        "temperature": 0,
        "max_tokens": 8,
        "num_retries": 0,
    }
    answer = litellm.completion(**common)
    parts = [
        chunk.choices[0].delta.content or "" for chunk in litellm.completion(**common, stream=True)
    ]
    assert answer.choices[0].message.content and "".join(parts) == answer.choices[0].message.content
