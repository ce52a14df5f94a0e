"""Tool calling for a chat template that has no tool syntax (SmolLM2's has none).

The convention (Hermes/Qwen style, documented in docs and kept stable):

- The tools are described in the system message: the model's own system text (or the
  template's default one) followed by ``TOOLS_PREAMBLE`` and one JSON line per function.
- A tool call is ``<tool_call>\\n{"name": ..., "arguments": {...}}\\n</tool_call>``; the
  grammar only lets the model write calls that name a listed function with arguments that
  match its ``parameters`` schema.
- Assistant turns with ``tool_calls`` are rendered back in that form; ``tool`` turns become
  user turns holding ``<tool_response>`` with the call id, function name and content.

``tool_choice``: ``none`` describes no tools and adds no grammar; ``auto`` lets the answer
be text (that cannot start with ``<``) or calls; ``required`` and a named function allow
only calls (the named one only). One call per turn by default; ``parallel_tool_calls:
true`` allows up to ``MAX_PARALLEL_CALLS`` (a small model given the choice tends to repeat
its call until ``max_tokens`` cuts the answer).
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from runtime.grammar import lark_json
from runtime.protocol import ChatCompletionRequest, ChatMessage
from runtime.tool_protocol import Tool

DEFAULT_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
TOOLS_PREAMBLE = (
    "You can call functions. To call one, reply with only\n"
    '<tool_call>\n{"name": <function name>, "arguments": <JSON object>}\n</tool_call>\n'
    "Available functions:"
)
OPEN, CLOSE = "<tool_call>\n", "\n</tool_call>"
MAX_PARALLEL_CALLS = 4
_CALL = re.compile(r"<tool_call>\n(.*?)\n</tool_call>", re.DOTALL)


def choice_of(body: ChatCompletionRequest) -> str | None:
    """'none', 'auto', 'required' or a function name; None when there are no tools."""
    if not body.tools:
        return None
    choice = body.tool_choice or "auto"
    return choice if isinstance(choice, str) else choice.function.name


def render_messages(body: ChatCompletionRequest, describe: bool) -> list[dict[str, str]]:
    """The request's turns as plain role/content pairs for the chat template."""
    names = {
        call.id: call.function.name
        for message in body.messages
        for call in message.tool_calls or []
    }
    messages = [_plain(message, names) for message in body.messages]
    if describe and body.tools:
        tools = "\n".join(_describe(tool) for tool in body.tools)
        block = f"{TOOLS_PREAMBLE}\n{tools}"
        if messages[0]["role"] == "system":
            messages[0] = {"role": "system", "content": f"{messages[0]['content']}\n\n{block}"}
        else:
            messages.insert(0, {"role": "system", "content": f"{DEFAULT_SYSTEM}\n\n{block}"})
    return messages


def _plain(message: ChatMessage, names: dict[str, str]) -> dict[str, str]:
    if message.role == "tool":
        response = {
            "tool_call_id": message.tool_call_id,
            "name": names.get(message.tool_call_id or "", message.name),
            "content": message.text(),
        }
        text = f"<tool_response>\n{json.dumps(response)}\n</tool_response>"
        return {"role": "user", "content": text}
    content = message.text()
    if message.tool_calls:
        calls = [
            format_call(call.function.name, _arguments(call.function.arguments))
            for call in message.tool_calls
        ]
        content = "\n".join([content, *calls] if content else calls)
    return {"role": message.role, "content": content}


def _arguments(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text  # echoed back as the string the client sent


def format_call(name: str, arguments: Any) -> str:
    return f"{OPEN}{json.dumps({'name': name, 'arguments': arguments})}{CLOSE}"


def _describe(tool: Tool) -> str:
    function = tool.function
    entry: dict[str, Any] = {"name": function.name}
    if function.description:
        entry["description"] = function.description
    entry["parameters"] = function.parameters or {"type": "object", "properties": {}}
    return json.dumps(entry)


def call_schema(tool: Tool) -> dict[str, Any]:
    """The JSON schema of one call's body: the function's name and its arguments."""
    parameters = tool.function.parameters or {"type": "object", "properties": {}}
    return {
        "type": "object",
        "properties": {"name": {"const": tool.function.name}, "arguments": parameters},
        "required": ["name", "arguments"],
        "additionalProperties": False,
    }


def tools_grammar(
    tools: list[Tool], choice: str, *, parallel: bool, answer: str | None = None
) -> str:
    """A Lark grammar for ``choice`` ('auto', 'required' or a function name).

    ``answer`` is the rule body a non-call answer must match under 'auto' (free text not
    starting with ``<`` when None; a ``%json`` rule when a response_format is set too).
    """
    chosen = [t for t in tools if choice in ("auto", "required", t.function.name)]
    bodies = [call_schema(tool) for tool in chosen]
    schema = bodies[0] if len(bodies) == 1 else {"anyOf": bodies}
    most = MAX_PARALLEL_CALLS if parallel else 1
    calls = " | ".join(' "\\n" '.join(["call"] * n) for n in range(1, most + 1))
    lines = [
        f"calls: {calls}",
        f"call: {json.dumps(OPEN)} body {json.dumps(CLOSE)}",
        f"body: {lark_json(schema)}",
    ]
    if choice == "auto":
        lines.insert(0, "start: calls | answer")
        lines.append("answer: " + (answer or "TEXT"))
        lines.append(r"TEXT: /[^<][\s\S]*/")
    else:
        lines.insert(0, "start: calls")
    return "\n".join(lines) + "\n"


def parse_calls(text: str) -> list[dict[str, Any]] | None:
    """The tool calls in a generated answer (OpenAI's shape), or None if it is not calls."""
    if not text.startswith(OPEN):
        return None
    calls = []
    for match in _CALL.finditer(text):
        try:
            body = json.loads(match.group(1))
        except ValueError:
            return None
        calls.append(
            {
                "id": f"call_{uuid.uuid4().hex[:24]}",
                "type": "function",
                "function": {"name": body["name"], "arguments": json.dumps(body["arguments"])},
            }
        )
    return calls or None
