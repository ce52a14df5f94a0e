"""Prefix cache: the KV of recent prompts, so a prompt that starts the same way skips that part.

Chat traffic repeats itself at the front: the system prompt, few-shot examples, the earlier
turns of a conversation. Keys and values at a position depend only on the tokens up to it,
so a new prompt can take the cached KV of its longest common prefix with any stored prompt
and compute only the rest. Entries are whole prompts in least-recently-used order, bounded
in bytes; a lookup compares the new prompt with each entry (a vectorised numpy compare).
"""

from __future__ import annotations

import collections
import dataclasses

import numpy as np

# Shorter matches are not worth giving up a batched prefill for: every chat prompt shares
# its first few template tokens ("<|im_start|>system\n") with every other.
MIN_REUSE = 16
# ONNX Runtime computes a one-token forward on another path than a longer one (the decode
# path): its logits and KV differ in the low bits (greedy answers then diverge within a
# few words), while any split into pieces of two or more tokens reproduces the one-piece
# prefill bit for bit (measured; tests/runtime/test_prefix_exact.py). So a prompt never
# ends with a one-token piece: a hit leaves at least this many tokens to compute.
MIN_TAIL = 2


@dataclasses.dataclass(frozen=True)
class Hit:
    length: int  # tokens whose KV can be reused
    kv: list[np.ndarray]  # one array per cache tensor, [kv_heads, >= length, head_dim]


class PrefixCache:
    def __init__(self, budget_bytes: int) -> None:
        self.budget = budget_bytes
        self.used = 0
        self._entries: collections.OrderedDict[tuple[int, ...], list[np.ndarray]] = (
            collections.OrderedDict()
        )
        self._tokens: dict[tuple[int, ...], np.ndarray] = {}  # each key as an array
        self.hit_tokens = 0  # for metrics: prompt tokens not computed thanks to the cache

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, prompt: list[int]) -> Hit | None:
        """The longest reusable prefix, leaving at least ``MIN_TAIL`` tokens to compute."""
        best, best_key = 0, None
        wanted = np.asarray(prompt[:-MIN_TAIL], dtype=np.int64)
        for key, tokens in self._tokens.items():
            length = common_prefix(wanted, tokens)
            if length > best:
                best, best_key = length, key
        if best_key is None or best < MIN_REUSE:
            return None
        self._entries.move_to_end(best_key)
        return Hit(best, self._entries[best_key])

    def store(self, prompt: list[int], kv: list[np.ndarray]) -> None:
        """Keep a copy of ``kv`` ([kv_heads, len(prompt), head_dim] each) for ``prompt``."""
        key = tuple(prompt)
        size = sum(a.nbytes for a in kv)
        if len(key) < MIN_REUSE or size > self.budget:
            return
        for old in list(self._entries):
            if key[: len(old)] == old:  # the new prompt extends (or repeats) an entry
                self._drop(old)
            elif old[: len(key)] == key:  # an entry already covers this prompt
                self._entries.move_to_end(old)
                return
        while self.used + size > self.budget:
            self._drop(next(iter(self._entries)))
        self._entries[key] = [np.array(a, copy=True) for a in kv]
        self._tokens[key] = np.asarray(key, dtype=np.int64)
        self.used += size

    def _drop(self, key: tuple[int, ...]) -> None:
        del self._tokens[key]
        self.used -= sum(a.nbytes for a in self._entries.pop(key))


def common_prefix(a: np.ndarray, b: np.ndarray) -> int:
    """Length of the longest common prefix of two int64 token arrays."""
    length = min(len(a), len(b))
    differ = np.flatnonzero(a[:length] != b[:length])
    return int(differ[0]) if differ.size else length
