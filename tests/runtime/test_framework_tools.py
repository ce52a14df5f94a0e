"""LangChain's and LiteLLM's OpenAI integrations with tools and structured outputs: the
frameworks rt's surface tests cover, on gram's constrained decoding."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from pydantic import BaseModel, Field

from tests.runtime.conftest import API_KEY, LiveServer, running, settings_for
from tests.runtime.test_structured import ADD, SCHEMA, TOOLS


@pytest.fixture(scope="module")
def live(tiny_artifact: Path) -> Iterator[LiveServer]:
    with running(settings_for(tiny_artifact)) as server:
        yield server


class Add(BaseModel):
    """Add a number."""

    a: int = Field(ge=0, le=9)


def _chat_model(live: LiveServer) -> Any:
    langchain_openai = pytest.importorskip("langchain_openai")
    return langchain_openai.ChatOpenAI(
        model=live.service.model_name,
        base_url=live.url + "/v1",
        api_key=API_KEY,
        max_retries=0,
        max_tokens=120,
        seed=1,
    )


def test_langchain_bound_tool_is_called(live: LiveServer) -> None:
    chat = _chat_model(live).bind_tools([Add], tool_choice="Add")
    message = chat.invoke("Add something.")
    [call] = message.tool_calls
    assert call["name"] == "Add" and call["id"].startswith("call_")
    jsonschema.validate(call["args"], Add.model_json_schema())


def test_langchain_streamed_tool_call_assembles(live: LiveServer) -> None:
    chat = _chat_model(live).bind_tools([Add], tool_choice="any")
    merged = None
    for chunk in chat.stream("Add something."):
        merged = chunk if merged is None else merged + chunk
    assert merged is not None
    [call] = merged.tool_calls
    assert call["name"] == "Add"
    jsonschema.validate(call["args"], Add.model_json_schema())


def test_langchain_structured_output_json_schema(live: LiveServer) -> None:
    schema = {"title": "answer", "description": "An answer.", **SCHEMA}
    chat = _chat_model(live).with_structured_output(schema, method="json_schema")
    answer = chat.invoke("What is it?")
    jsonschema.validate(answer, SCHEMA)


def test_litellm_tool_call(live: LiveServer) -> None:
    litellm = pytest.importorskip("litellm")
    response = litellm.completion(
        model="openai/" + live.service.model_name,
        api_base=live.url + "/v1",
        api_key=API_KEY,
        messages=[{"role": "user", "content": "Add something."}],
        tools=TOOLS,
        tool_choice={"type": "function", "function": {"name": "add"}},
        max_tokens=120,
        num_retries=0,
    )
    choice = response.choices[0]
    assert choice.finish_reason == "tool_calls"
    [call] = choice.message.tool_calls
    assert call.function.name == "add"
    jsonschema.validate(json.loads(call.function.arguments), ADD)
