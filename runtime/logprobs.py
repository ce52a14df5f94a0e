"""``logprobs`` in OpenAI's two shapes: chat (``content`` entries) and legacy completions.

A token's text is its bytes (byte-level BPE: one character of the tokenizer's alphabet per
byte), decoded leniently: a token may hold part of a multi-byte character, which is why
OpenAI also returns the raw ``bytes``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from tokenizers import Tokenizer


@functools.cache
def _byte_decoder() -> dict[str, int]:
    """GPT-2's byte ↔ printable character table, inverted (what ByteLevel tokenizers use)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    chars = list(printable)
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            chars.append(256 + extra)
            extra += 1
    return {chr(c): b for b, c in zip(printable, chars, strict=True)}


class TokenText:
    """Token id → (text, bytes), cached: a response repeats few distinct tokens."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        self.tokenizer = tokenizer

    @functools.lru_cache(maxsize=65536)  # noqa: B019 (one instance per loaded model)
    def bytes_of(self, token: int) -> bytes:
        piece = self.tokenizer.id_to_token(token) or ""
        table = _byte_decoder()
        if all(ch in table for ch in piece):
            return bytes(table[ch] for ch in piece)
        return piece.encode("utf-8")  # an added token (``<|im_end|>``) is its own text

    def text_of(self, token: int) -> str:
        return self.bytes_of(token).decode("utf-8", errors="replace")


def chat_entries(
    names: TokenText, tokens: Sequence[tuple[int, float, list[tuple[int, float]]]]
) -> list[dict[str, Any]]:
    """``choices[i].logprobs.content`` for these tokens."""

    def entry(token: int, logprob: float) -> dict[str, Any]:
        raw = names.bytes_of(token)
        return {"token": names.text_of(token), "logprob": logprob, "bytes": list(raw)}

    return [
        {**entry(token, lp), "top_logprobs": [entry(t, p) for t, p in top]}
        for token, lp, top in tokens
    ]


def completion_logprobs(
    names: TokenText,
    tokens: Sequence[tuple[int, float, list[tuple[int, float]]]],
    offset: int,
) -> dict[str, Any]:
    """Legacy ``choices[i].logprobs`` for these tokens, text offsets starting at ``offset``."""
    texts = [names.text_of(token) for token, _, _ in tokens]
    offsets = []
    for text in texts:
        offsets.append(offset)
        offset += len(text)
    return {
        "tokens": texts,
        "token_logprobs": [lp for _, lp, _ in tokens],
        "top_logprobs": [{names.text_of(t): p for t, p in top} for _, _, top in tokens],
        "text_offset": offsets,
    }
