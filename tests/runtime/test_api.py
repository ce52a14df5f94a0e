"""The OpenAI API over real HTTP with the official client, on the real SmolLM2 model."""

from __future__ import annotations

import concurrent.futures
import re
import time
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from tests.runtime.conftest import PROMPTS, LiveServer, running, settings_for

pytestmark = pytest.mark.slow
FRANCE = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture(scope="module")
def server(model_artifact: Path) -> Iterator[LiveServer]:
    with running(settings_for(model_artifact, max_concurrent_requests=8)) as live:
        yield live


@pytest.fixture(scope="module")
def client(server: LiveServer) -> openai.OpenAI:
    return server.client()


@pytest.fixture(scope="module")
def model(server: LiveServer) -> str:
    return server.service.model_name


def test_chat_answers_from_the_real_model(client: openai.OpenAI, model: str) -> None:
    reply = client.chat.completions.create(
        model=model,
        messages=FRANCE,
        temperature=0,
        max_tokens=30,  # type: ignore[arg-type]
    )
    assert reply.choices[0].message.content == "The capital of France is Paris."
    assert reply.choices[0].finish_reason == "stop"
    assert reply.object == "chat.completion" and reply.id.startswith("chatcmpl-")
    usage = reply.usage
    assert usage is not None and usage.completion_tokens == 7
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_streamed_chat_equals_the_plain_answer(client: openai.OpenAI, model: str) -> None:
    plain = client.chat.completions.create(
        model=model,
        messages=FRANCE,
        temperature=0,
        max_tokens=30,  # type: ignore[arg-type]
    )
    chunks = list(
        client.chat.completions.create(
            model=model,
            messages=FRANCE,
            temperature=0,
            max_tokens=30,  # type: ignore[arg-type]
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == plain.choices[0].message.content
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop" and set(finishes[:-1]) == {None}
    assert chunks[-1].choices == [] and chunks[-1].usage == plain.usage


def test_completion_honours_stop_strings(client: openai.OpenAI, model: str) -> None:
    reply = client.completions.create(
        model=model, prompt="The capital of France is", max_tokens=20, temperature=0, stop=["."]
    )
    assert reply.choices[0].text == " Paris" and reply.choices[0].finish_reason == "stop"
    streamed = client.completions.create(
        model=model,
        prompt="The capital of France is",
        max_tokens=20,
        temperature=0,
        stop=["."],
        stream=True,
    )
    assert "".join(c.choices[0].text for c in streamed) == " Paris"


def test_max_tokens_ends_with_length(client: openai.OpenAI, model: str) -> None:
    reply = client.chat.completions.create(
        model=model,
        messages=FRANCE,
        temperature=0,
        max_tokens=3,  # type: ignore[arg-type]
    )
    assert reply.choices[0].finish_reason == "length"
    assert reply.usage is not None and reply.usage.completion_tokens == 3
    assert reply.choices[0].message.content == "The capital of"


def test_greedy_and_seeded_sampling_are_reproducible(client: openai.OpenAI, model: str) -> None:
    def ask(**params: object) -> str:
        reply = client.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": "Tell me a story."}],
            max_tokens=8,
            **params,  # type: ignore[call-overload]
        )
        return str(reply.choices[0].message.content)

    assert ask(temperature=0) == ask(temperature=0)
    top_k = {"top_k": 50}  # an extension to OpenAI's parameters, as in vLLM
    assert ask(temperature=1.0, top_p=0.9, seed=7, extra_body=top_k) == ask(
        temperature=1.0, top_p=0.9, seed=7, extra_body=top_k
    )
    seeded = {ask(temperature=1.5, seed=s) for s in range(3)}
    assert len(seeded) > 1  # a seed really changes the sample


def _decode_batch_sizes(server: LiveServer) -> list[float]:
    text = server.http().get("/metrics").text
    counts = re.findall(r'servespec_batch_size_(count|sum)\{kind="decode"\} (\S+)', text)
    return [float(v) for _, v in counts]


def test_concurrent_clients_get_their_solo_answers(server: LiveServer, model: str) -> None:
    client = server.client()

    def ask(prompt: str) -> str:
        reply = client.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": prompt}],
            temperature=0,
            max_tokens=16,
        )
        return str(reply.choices[0].message.content)

    solo = [ask(p) for p in PROMPTS]
    before = _decode_batch_sizes(server)

    def staggered(index: int) -> str:
        time.sleep(0.15 * index)  # rows join a batch that is already decoding
        return ask(PROMPTS[index])

    with concurrent.futures.ThreadPoolExecutor(len(PROMPTS)) as pool:
        together = list(pool.map(staggered, range(len(PROMPTS))))
    assert together == solo
    count, total = (a - b for a, b in zip(_decode_batch_sizes(server), before, strict=True))
    assert total / count > 2  # the answers really shared forward passes


def test_models_lists_the_served_model(client: openai.OpenAI, model: str) -> None:
    assert [m.id for m in client.models.list()] == [model]


def test_unknown_model_is_404(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="gpt-9", messages=FRANCE)  # type: ignore[arg-type]
    assert caught.value.code == "model_not_found"


def test_too_long_context_is_400(client: openai.OpenAI, model: str) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": "word " * 1500}],
            max_tokens=1000,
        )
    assert caught.value.code == "context_length_exceeded"
    assert "maximum context length is 2048" in caught.value.message


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"temperature": 3}, "temperature"),
        ({"top_p": 0}, "top_p"),
        ({"n": 9}, "n"),  # up to protocol.MAX_N choices per request
        ({"max_tokens": 0}, "max_tokens"),
        ({"presence_penalty": -2.5}, "presence_penalty"),
    ],
)
def test_bad_parameters_are_400(
    client: openai.OpenAI, model: str, params: dict[str, object], param: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=model, messages=FRANCE, **params)  # type: ignore[call-overload]
    assert caught.value.param == param
    assert caught.value.body["type"] == "invalid_request_error"  # type: ignore[index]
