"""Structured outputs and tools together with n > 1 and logprobs: every choice decodes
under its own grammar state, and each choice's text becomes its own message."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.runtime.conftest import LiveServer, running, settings_for
from tests.runtime.test_structured import PARAMS, SCHEMA, SCHEMA_FORMAT, TOOLS


@pytest.fixture(scope="module")
def live(tiny_artifact: Path) -> Iterator[LiveServer]:
    with running(settings_for(tiny_artifact, max_concurrent_requests=4)) as server:
        yield server


def _chat(live: LiveServer, **kwargs: Any) -> Any:
    kwargs.setdefault("messages", [{"role": "user", "content": "What is it?"}])
    kwargs.setdefault("max_tokens", 120)
    return live.client().chat.completions.create(model=live.service.model_name, **kwargs)


def test_each_of_n_choices_validates_against_the_schema(live: LiveServer) -> None:
    response = _chat(live, response_format=SCHEMA_FORMAT, n=3, seed=7, temperature=1.0)
    assert [c.index for c in response.choices] == [0, 1, 2]
    answers = []
    for choice in response.choices:
        assert choice.finish_reason == "stop"
        answers.append(json.loads(choice.message.content))
        jsonschema.validate(answers[-1], SCHEMA)
    assert len({json.dumps(a, sort_keys=True) for a in answers}) > 1  # own streams, own states


def test_n_streamed_choices_each_parse(live: LiveServer) -> None:
    stream = _chat(live, response_format=SCHEMA_FORMAT, n=2, seed=4, stream=True)
    texts, finishes = ["", ""], [None, None]
    for chunk in stream:
        for choice in chunk.choices:
            texts[choice.index] += choice.delta.content or ""
            finishes[choice.index] = choice.finish_reason or finishes[choice.index]
    assert finishes == ["stop", "stop"]
    for text in texts:
        jsonschema.validate(json.loads(text), SCHEMA)


def test_n_choices_each_get_their_own_tool_calls(live: LiveServer) -> None:
    response = _chat(live, tools=TOOLS, tool_choice="required", n=2, seed=1)
    ids = set()
    for choice in response.choices:
        assert choice.finish_reason == "tool_calls" and choice.message.content is None
        [call] = choice.message.tool_calls
        ids.add(call.id)
        jsonschema.validate(json.loads(call.function.arguments), PARAMS[call.function.name])
    assert len(ids) == 2


def test_n_streamed_tool_calls_keep_their_choice(live: LiveServer) -> None:
    stream = _chat(live, tools=TOOLS, tool_choice="required", n=2, seed=2, stream=True)
    arguments: dict[int, str] = {0: "", 1: ""}
    names: dict[int, str] = {0: "", 1: ""}
    finishes: dict[int, str | None] = {0: None, 1: None}
    for chunk in stream:
        for choice in chunk.choices:
            for part in choice.delta.tool_calls or []:
                assert part.index == 0  # one call per choice without parallel_tool_calls
                names[choice.index] += (part.function.name if part.function else None) or ""
                arguments[choice.index] += (
                    part.function.arguments if part.function else None
                ) or ""
            finishes[choice.index] = choice.finish_reason or finishes[choice.index]
    assert finishes == {0: "tool_calls", 1: "tool_calls"}
    for index in (0, 1):
        jsonschema.validate(json.loads(arguments[index]), PARAMS[names[index]])


def test_logprobs_come_with_a_schema_answer(live: LiveServer) -> None:
    choice = _chat(
        live, response_format=SCHEMA_FORMAT, logprobs=True, top_logprobs=2, seed=3
    ).choices[0]
    jsonschema.validate(json.loads(choice.message.content), SCHEMA)
    entries = choice.logprobs.content
    text = bytes(b for entry in entries for b in entry.bytes or []).decode("utf-8", "replace")
    assert entries and text == choice.message.content
    assert all(len(entry.top_logprobs) == 2 for entry in entries)


def test_streamed_logprobs_with_tool_choice_auto_text(live: LiveServer) -> None:
    """A text answer under tools streams content with its logprobs, nothing held back."""
    for seed in range(4):
        stream = _chat(
            live,
            tools=TOOLS,
            tool_choice="auto",
            stream=True,
            seed=seed,
            max_tokens=20,
            logprobs=True,
        )
        content, tokens, finish = "", b"", None
        for chunk in stream:
            choice = chunk.choices[0]
            content += choice.delta.content or ""
            for entry in (choice.logprobs.content if choice.logprobs else None) or []:
                tokens += bytes(entry.bytes or [])
            finish = choice.finish_reason or finish
        if finish == "length":
            assert content and tokens.decode("utf-8", "replace") == content
            return
    pytest.fail("no seed gave a text answer")
