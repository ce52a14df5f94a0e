"""What a chat request's ``response_format`` and ``tools`` mean for one generation.

``plan_chat`` turns the request into the turns to render, the grammar its row decodes
under (None: unconstrained) and how the generated text becomes the response: plain
content, or ``tool_calls`` with finish reason "tool_calls" (whole or as stream deltas).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
from collections.abc import AsyncGenerator
from typing import Any

from runtime import tools
from runtime.artifact import Artifact
from runtime.errors import APIError
from runtime.grammar import Grammar, GrammarError, Grammars, json_schema_grammar, lark_json
from runtime.pieces import Delta, Piece, Token
from runtime.protocol import ChatCompletionRequest
from runtime.tool_protocol import JsonObjectFormat, JsonSchemaFormat

log = logging.getLogger("servespec.structured")
ANY_OBJECT: dict[str, Any] = {"type": "object"}


@dataclasses.dataclass
class Plan:
    messages: list[dict[str, str]]
    grammar: Grammar | None = None
    calls: bool = False  # whether the answer may be tool calls

    def message(self, content: str, finish: str) -> tuple[dict[str, Any], str]:
        """The assistant message and finish reason for a whole answer."""
        found = tools.parse_calls(content) if self.calls and finish == "stop" else None
        if found is None:
            return {"role": "assistant", "content": content}, finish
        return {"role": "assistant", "content": None, "tool_calls": found}, "tool_calls"

    async def deltas(self, pieces: AsyncGenerator[Piece, None]) -> AsyncGenerator[Delta, None]:
        """One choice's stream deltas: content as it comes, or the calls once complete.

        Under a tools grammar a text answer cannot start with ``<``, so the first
        character decides which one this is. Held-back call text keeps its logprob
        tokens for a content answer; tool call deltas carry none (as at OpenAI).
        """
        calls = self.calls
        parts: list[str] = []
        held: list[Token] = []
        async with contextlib.aclosing(pieces):
            async for piece in pieces:
                text, finish = piece.text, piece.finish
                if calls and not parts and text and not text.startswith("<"):
                    calls = False
                if not calls:
                    tokens, held = held + piece.tokens, []
                    yield Delta({"content": text} if text or tokens else {}, finish, tokens)
                    continue
                if text:
                    parts.append(text)
                held.extend(piece.tokens)
                if finish is not None:
                    for delta in self._final("".join(parts), finish, held):
                        yield delta

    def _final(self, content: str, finish: str, tokens: list[Token]) -> list[Delta]:
        message, reason = self.message(content, finish)
        if reason != "tool_calls":
            return [Delta({"content": message["content"]}, reason, tokens)]
        deltas = []
        for index, call in enumerate(message["tool_calls"]):
            head = {**call, "function": {"name": call["function"]["name"], "arguments": ""}}
            deltas.append(Delta({"tool_calls": [{"index": index, **head}]}, None, []))
            arguments = {"arguments": call["function"]["arguments"]}
            deltas.append(
                Delta({"tool_calls": [{"index": index, "function": arguments}]}, None, [])
            )
        return [*deltas, Delta({}, reason, [])]


def grammars_for(artifact: Artifact, vocab: int) -> Grammars:
    """The artifact's grammar compiler (its tokenizer is built once, then cached)."""
    if not vocab:  # a graph with a symbolic vocabulary axis: the config knows it
        config = json.loads((artifact.root / "config.json").read_text(encoding="utf-8"))
        vocab = int(config["vocab_size"])
    return Grammars(artifact.root / "tokenizer.json", vocab, list(artifact.eos_token_ids))


def warm(artifact: Artifact, vocab: int) -> None:
    """Build the grammar tokenizer at load, not in the first structured request."""
    try:
        grammars_for(artifact, vocab)
    except Exception:  # structured requests will report it; plain ones must still be served
        log.warning("grammar tokenizer unavailable", exc_info=True)


def plan_chat(body: ChatCompletionRequest, grammars: Grammars | None) -> Plan:
    """Blocking (grammar compilation): call it off the event loop."""
    choice = tools.choice_of(body)
    calls = choice not in (None, "none")
    messages = tools.render_messages(body, describe=calls)
    schema = _answer_schema(body)
    if not calls and schema is None:
        return Plan(messages)
    assert grammars is not None
    try:
        if calls:
            assert body.tools is not None and choice is not None
            _check_choice(body, choice)
            answer = lark_json(schema) if schema is not None else None
            # One call per turn unless asked: small models otherwise repeat a call until
            # max_tokens cuts it.
            parallel = body.parallel_tool_calls is True
            text = tools.tools_grammar(body.tools, choice, parallel=parallel, answer=answer)
            return Plan(messages, grammars.compile(text), calls=True)
        return Plan(messages, grammars.compile(json_schema_grammar(schema)))
    except GrammarError as exc:
        param = "tools" if calls else "response_format"
        raise APIError(400, f"Invalid schema: {exc}", param=param, code="invalid_schema") from None


def _answer_schema(body: ChatCompletionRequest) -> dict[str, Any] | None:
    fmt = body.response_format
    if isinstance(fmt, JsonObjectFormat):
        return ANY_OBJECT
    if isinstance(fmt, JsonSchemaFormat):
        schema = fmt.json_schema.schema_
        if schema is None:
            return ANY_OBJECT
        try:
            json.dumps(schema)
        except ValueError as exc:
            raise APIError(400, f"Invalid schema: {exc}", param="response_format") from None
        return schema
    return None


def _check_choice(body: ChatCompletionRequest, choice: str) -> None:
    names = {tool.function.name for tool in body.tools or []}
    if choice not in ("auto", "required") and choice not in names:
        raise APIError(
            400,
            f"tool_choice names the function '{choice}', which is not in tools.",
            param="tool_choice",
            code="invalid_value",
        )
