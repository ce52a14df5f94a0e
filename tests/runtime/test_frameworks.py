"""Agent frameworks against the real server: a tool call and a structured output each.

pydantic-ai and the OpenAI Agents SDK both speak Chat Completions to any base URL. The tiny
random model cannot choose well, so every test forces the choice (tool_choice required,
schemas with bounded fields); the grammar makes what the model writes usable.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

import openai
import pytest
from pydantic import BaseModel, Field

from tests.runtime.conftest import API_KEY, LiveServer, running, settings_for


class City(BaseModel):
    name: str = Field(max_length=12)
    population: int = Field(ge=0, le=999)
    capital: bool


@pytest.fixture(scope="module")
def live(tiny_artifact: Path) -> Iterator[LiveServer]:
    with running(settings_for(tiny_artifact)) as server:
        yield server


def _async_client(live: LiveServer) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=live.url + "/v1", api_key=API_KEY, max_retries=0)


def test_pydantic_ai_structured_output(live: LiveServer) -> None:
    from pydantic_ai import Agent, NativeOutput
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    provider = OpenAIProvider(openai_client=_async_client(live))
    model = OpenAIChatModel(live.service.model_name, provider=provider)
    agent = Agent(model, output_type=NativeOutput(City))  # response_format json_schema
    result = agent.run_sync("Describe Paris.", model_settings={"max_tokens": 120, "seed": 1})
    assert isinstance(result.output, City)


def test_pydantic_ai_tool_output(live: LiveServer) -> None:
    """pydantic-ai's default structured output is a forced call of its final_result tool."""
    from pydantic_ai import Agent
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    provider = OpenAIProvider(openai_client=_async_client(live))
    model = OpenAIChatModel(live.service.model_name, provider=provider)
    agent = Agent(model, output_type=City)
    result = agent.run_sync("Describe Paris.", model_settings={"max_tokens": 120, "seed": 2})
    assert isinstance(result.output, City)
    calls = [
        p
        for m in result.all_messages()
        for p in getattr(m, "parts", [])
        if p.part_kind == "tool-call"
    ]
    assert calls and calls[-1].tool_name == "final_result"


def test_openai_agents_tool_call_and_output(live: LiveServer) -> None:
    from agents import (
        Agent,
        ModelSettings,
        OpenAIChatCompletionsModel,
        Runner,
        function_tool,
        set_tracing_disabled,
    )

    set_tracing_disabled(True)  # the SDK would send traces to OpenAI otherwise
    called: list[tuple[str, int]] = []

    @function_tool
    def lookup(city: Literal["Paris", "Rome"], year: Annotated[int, Field(ge=0, le=2100)]) -> str:
        """Look a city up."""
        called.append((city, year))
        return f"{city} in {year}: fine"

    async def both() -> tuple[Any, Any]:
        model = OpenAIChatCompletionsModel(live.service.model_name, _async_client(live))
        tool_agent = Agent(
            name="tools",
            model=model,
            tools=[lookup],
            tool_use_behavior="stop_on_first_tool",
            model_settings=ModelSettings(tool_choice="required", max_tokens=80, temperature=0),
        )
        output_agent = Agent(
            name="output",
            model=model,
            output_type=City,
            model_settings=ModelSettings(max_tokens=120),
        )
        return await Runner.run(tool_agent, "Look up Paris."), await Runner.run(
            output_agent, "Describe Paris."
        )

    tool_result, output_result = asyncio.run(both())
    assert len(called) == 1 and called[0][0] in ("Paris", "Rome") and 0 <= called[0][1] <= 2100
    assert tool_result.final_output == f"{called[0][0]} in {called[0][1]}: fine"
    assert isinstance(output_result.final_output, City)
