"""Request bodies as JSON: bounded nesting, and text that is valid Unicode, before any model.

``json.loads`` recurses once per nesting level, so a 50,000-level body is a RecursionError
(a 500) unless the depth is checked first, without recursion: strings are blanked out and
the brackets left are summed. JSON may spell a lone surrogate (``"\\ud800"``), which parses
into a Python string that cannot be encoded, tokenized or even written back in an error
message; those are refused with the path of the field that holds one.
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np

from runtime.errors import APIError

# OpenAI bodies nest a few levels (messages → content parts; a tool's JSON Schema a few
# more); a 64-level body is already more than any real client sends.
MAX_DEPTH = 64
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_SURROGATE = re.compile("[\ud800-\udfff]")
_OPEN = np.frombuffer(b"[{", np.uint8)
_CLOSE = np.frombuffer(b"]}", np.uint8)


def nesting_depth(raw: bytes) -> int:
    """The deepest bracket nesting outside strings (an over-estimate for broken JSON)."""
    chars = np.frombuffer(_STRING.sub(b'""', raw), np.uint8)
    if chars.size == 0:
        return 0
    steps = np.isin(chars, _OPEN).astype(np.int32) - np.isin(chars, _CLOSE).astype(np.int32)
    return int(np.cumsum(steps).max(initial=0))


def decode(raw: bytes) -> Any:
    """The parsed body, or an ``APIError`` 400 that says what is wrong with it."""
    if nesting_depth(raw) > MAX_DEPTH:
        raise APIError(
            400,
            f"The request body is nested more than {MAX_DEPTH} levels deep.",
            code="invalid_json",
        )
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise APIError(400, "The request body is not valid JSON.", code="invalid_json") from None
    where = invalid_text(data)
    if where is not None:
        raise APIError(
            400,
            f"{where or 'body'}: the text is not valid Unicode (it holds a lone surrogate "
            "such as \\ud800).",
            param=where or None,
            code="invalid_value",
        )
    return data


def invalid_text(value: Any, path: str = "") -> str | None:
    """The dotted path of the first string (or key) holding a lone surrogate, if any."""
    if isinstance(value, str):
        return path if _SURROGATE.search(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            if _SURROGATE.search(key):
                return path or "body"
            found = invalid_text(item, here)
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = invalid_text(item, f"{path}.{index}" if path else str(index))
            if found is not None:
                return found
    return None
