"""Structured outputs and tools over real HTTP with the official client.

The tiny random-weight model writes nonsense, which is the point: whatever it would say,
the grammar makes the answer parse and validate. Schemas bound every string and number so
that an answer ends well within ``max_tokens``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.runtime.conftest import LiveServer, running, settings_for

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "maxLength": 12},
        "count": {"type": "integer", "minimum": 0, "maximum": 99},
        "ok": {"type": "boolean"},
        "color": {"enum": ["red", "green"]},
    },
    "required": ["city", "count", "ok", "color"],
    "additionalProperties": False,
}
WEATHER = {
    "type": "object",
    "properties": {"city": {"type": "string", "maxLength": 10}, "unit": {"enum": ["c", "f"]}},
    "required": ["city", "unit"],
    "additionalProperties": False,
}
ADD = {
    "type": "object",
    "properties": {"a": {"type": "integer", "minimum": 0, "maximum": 9}},
    "required": ["a"],
    "additionalProperties": False,
}
TOOLS = [
    {
        "type": "function",
        "function": {"name": "get_weather", "description": "Weather", "parameters": WEATHER},
    },
    {"type": "function", "function": {"name": "add", "parameters": ADD}},
]
PARAMS = {"get_weather": WEATHER, "add": ADD}
SCHEMA_FORMAT = {
    "type": "json_schema",
    "json_schema": {"name": "answer", "schema": SCHEMA, "strict": True},
}


@pytest.fixture(scope="module")
def live(tiny_artifact: Path) -> Iterator[LiveServer]:
    with running(settings_for(tiny_artifact, max_concurrent_requests=8)) as server:
        yield server


def _chat(live: LiveServer, **kwargs: Any) -> Any:
    kwargs.setdefault("messages", [{"role": "user", "content": "What is it?"}])
    kwargs.setdefault("max_tokens", 120)
    return live.client().chat.completions.create(model=live.service.model_name, **kwargs)


def test_json_schema_answers_validate_beside_free_rows(live: LiveServer) -> None:
    """Constrained and unconstrained rows decode in one batch; every constrained one parses."""

    def one(i: int) -> tuple[bool, Any]:
        constrained = i % 2 == 0
        extra = {"response_format": SCHEMA_FORMAT} if constrained else {}
        return constrained, _chat(live, seed=i, temperature=1.0, **extra)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(8)))
    for constrained, response in results:
        choice = response.choices[0]
        if constrained:
            assert choice.finish_reason == "stop"
            jsonschema.validate(json.loads(choice.message.content), SCHEMA)
    free = [r.choices[0].message.content for c, r in results if not c]
    assert not any(_is_json(text) for text in free)  # the unmasked rows stay unmasked


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def test_json_schema_streamed(live: LiveServer) -> None:
    stream = _chat(live, response_format=SCHEMA_FORMAT, stream=True, seed=3)
    text, finish = "", None
    for chunk in stream:
        text += chunk.choices[0].delta.content or ""
        finish = chunk.choices[0].finish_reason or finish
    assert finish == "stop"
    jsonschema.validate(json.loads(text), SCHEMA)


def test_json_object_is_an_object(live: LiveServer) -> None:
    # json_object with no schema: a random model may nest forever, but what it starts is
    # always an object, and an answer that finishes parses.
    for seed in range(3):
        choice = _chat(live, response_format={"type": "json_object"}, seed=seed).choices[0]
        assert choice.message.content.startswith("{")
        if choice.finish_reason == "stop":
            assert isinstance(json.loads(choice.message.content), dict)


@pytest.mark.parametrize(
    "schema",
    [{"type": "frob"}, {"type": "object", "properties": {"a": {"$ref": "#/nowhere"}}}],
)
def test_bad_schema_is_a_400(live: LiveServer, schema: dict[str, Any]) -> None:
    response_format = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
    with live.http() as http:
        response = http.post(
            "/v1/chat/completions",
            json={
                "model": live.service.model_name,
                "messages": [{"role": "user", "content": "x"}],
                "response_format": response_format,
            },
        )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == "response_format"


@pytest.mark.parametrize("tool_choice", ["required", "named"])
def test_tool_calls_are_enforced(live: LiveServer, tool_choice: str) -> None:
    choice_value: Any = tool_choice
    if tool_choice == "named":
        choice_value = {"type": "function", "function": {"name": "add"}}
    response = _chat(live, tools=TOOLS, tool_choice=choice_value, parallel_tool_calls=False)
    choice = response.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    [call] = choice.message.tool_calls
    assert call.type == "function" and call.id.startswith("call_")
    if tool_choice == "named":
        assert call.function.name == "add"
    jsonschema.validate(json.loads(call.function.arguments), PARAMS[call.function.name])


def test_tool_calls_stream_as_deltas(live: LiveServer) -> None:
    stream = _chat(live, tools=TOOLS, tool_choice="required", stream=True, seed=5)
    calls: dict[int, dict[str, str]] = {}
    finish = None
    for chunk in stream:
        delta = chunk.choices[0].delta
        for part in delta.tool_calls or []:
            entry = calls.setdefault(part.index, {"id": "", "name": "", "arguments": ""})
            entry["id"] += part.id or ""
            entry["name"] += (part.function.name if part.function else None) or ""
            entry["arguments"] += (part.function.arguments if part.function else None) or ""
        finish = chunk.choices[0].finish_reason or finish
    assert finish == "tool_calls" and calls
    for entry in calls.values():
        assert entry["id"].startswith("call_")
        jsonschema.validate(json.loads(entry["arguments"]), PARAMS[entry["name"]])


def test_tool_choice_none_and_auto_answer_text_or_valid_calls(live: LiveServer) -> None:
    none = _chat(live, tools=TOOLS, tool_choice="none", max_tokens=8).choices[0]
    assert none.finish_reason == "length" and none.message.tool_calls is None
    for seed in range(3):
        auto = _chat(live, tools=TOOLS, tool_choice="auto", seed=seed, max_tokens=60)
        message = auto.choices[0].message
        for call in message.tool_calls or []:
            jsonschema.validate(json.loads(call.function.arguments), PARAMS[call.function.name])
        assert (message.tool_calls is None) == (auto.choices[0].finish_reason != "tool_calls")


def test_tool_results_are_accepted_back(live: LiveServer) -> None:
    arguments = json.dumps({"city": "Paris", "unit": "c"})
    messages = [
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": arguments},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "21 C and sunny"},
    ]
    response = _chat(live, messages=messages, tools=TOOLS, max_tokens=4)
    assert response.choices[0].finish_reason in ("stop", "length", "tool_calls")
    # The rendered prompt carries the call and the result (tokens counted from it).
    assert response.usage.prompt_tokens > 60


def test_unknown_named_tool_is_a_400(live: LiveServer) -> None:
    with live.http() as http:
        response = http.post(
            "/v1/chat/completions",
            json={
                "model": live.service.model_name,
                "messages": [{"role": "user", "content": "x"}],
                "tools": TOOLS,
                "tool_choice": {"type": "function", "function": {"name": "nope"}},
            },
        )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "tool_choice"


def test_parallel_tool_calls_when_asked(live: LiveServer) -> None:
    for seed in range(3):
        response = _chat(
            live, tools=TOOLS, tool_choice="required", parallel_tool_calls=True, seed=seed
        )
        choice = response.choices[0]
        if choice.finish_reason != "tool_calls":
            assert choice.finish_reason == "length"  # four calls may not fit in 120 tokens
            continue
        assert 1 <= len(choice.message.tool_calls) <= 4
        assert len({call.id for call in choice.message.tool_calls}) == len(
            choice.message.tool_calls
        )
        for call in choice.message.tool_calls:
            jsonschema.validate(json.loads(call.function.arguments), PARAMS[call.function.name])


def test_bad_tool_parameters_are_a_400(live: LiveServer) -> None:
    bad = [{"type": "function", "function": {"name": "f", "parameters": {"type": "frob"}}}]
    with live.http() as http:
        response = http.post(
            "/v1/chat/completions",
            json={
                "model": live.service.model_name,
                "messages": [{"role": "user", "content": "x"}],
                "tools": bad,
                "tool_choice": "required",
            },
        )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "tools"


def test_auto_text_answers_stream_as_they_come(live: LiveServer) -> None:
    """Under tool_choice auto a text answer is not held back until the end."""
    for seed in range(4):
        stream = _chat(live, tools=TOOLS, tool_choice="auto", stream=True, seed=seed, max_tokens=30)
        pieces, finish = [], None
        for chunk in stream:
            delta = chunk.choices[0].delta
            if delta.content:
                pieces.append(delta.content)
            finish = chunk.choices[0].finish_reason or finish
        if finish == "length":
            assert len(pieces) > 5 and not "".join(pieces).startswith("<")
            return
    pytest.fail("no seed gave a text answer")
