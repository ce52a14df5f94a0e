"""Constrained decoding: llguidance grammars turned into per-row token masks.

A request with ``response_format`` json_object/json_schema, or with tools, gets a grammar;
its row's sampler masks every token the grammar forbids before choosing, so the output
parses (and validates) by construction. Rows with and without grammars share one batch:
after each batched decode step, ``BatchMasks`` computes the masks of all constrained rows
in one parallel llguidance call, and each row's sampler applies its mask to a copy of its
own logits row (the batch's logits, which logprobs read, stay the model's). A sampler not
filled by a batch (a row's first token, after its prefill; a sampler used alone) computes
its own mask. EOS is allowed only where the grammar may end.

llguidance's tokenizer is built once per artifact from the same ``tokenizer.json`` the
runtime decodes with (about a second), sized to the model's logits.
"""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import llguidance
import llguidance.numpy
import numpy as np

from runtime.sampling import Sampler, SamplingParams

if TYPE_CHECKING:
    from llguidance._lib import JsonCompileOptions

# Compact, conventional JSON: flexible whitespace lets a small model emit newlines forever.
JSON_OPTIONS: JsonCompileOptions = {
    "whitespace_flexible": False,
    "item_separator": ", ",
    "key_separator": ": ",
}


_MINUS_INF = np.float32(-np.inf)


class GrammarError(ValueError):
    """The schema or grammar cannot be compiled; the message says why (a 400)."""


@functools.cache
def _tokenizer(path: str, vocab: int, eos: tuple[int, ...]) -> llguidance.LLTokenizer:
    text = Path(path).read_text(encoding="utf-8")
    return llguidance.LLTokenizer(text, n_vocab=vocab, eos_token=list(eos))


class Grammars:
    """Compiles grammars for one artifact's tokenizer."""

    def __init__(self, tokenizer_json: Path, vocab: int, eos_ids: list[int]) -> None:
        self.tokenizer = _tokenizer(str(tokenizer_json), vocab, tuple(eos_ids))
        self.vocab = vocab

    def json_schema(self, schema: Any) -> Grammar:
        """A grammar for one JSON value matching ``schema`` (a dict)."""
        return self.compile(json_schema_grammar(schema))

    def compile(self, grammar: str) -> Grammar:
        """Blocking (milliseconds; up to a second for huge schemas): off the event loop."""
        matcher = llguidance.LLMatcher(self.tokenizer, grammar, log_level=0)
        if matcher.is_error():
            raise GrammarError(matcher.get_error())
        return Grammar(self, matcher)


def json_schema_grammar(schema: Any) -> str:
    if not isinstance(schema, dict):
        raise GrammarError("the JSON schema must be an object")
    try:
        return llguidance.LLMatcher.grammar_from_json_schema(schema, overrides=JSON_OPTIONS)
    except (ValueError, TypeError) as exc:
        raise GrammarError(str(exc)) from None


def lark_json(schema: dict[str, Any]) -> str:
    """A Lark rule body that embeds a JSON schema (llguidance's ``%json`` extension)."""
    options = {"x-guidance": {**JSON_OPTIONS}}
    # Properties come out in the schema's order: a call's "name" before its "arguments".
    return "%json " + json.dumps({**schema, **options})


class Grammar:
    """One request's compiled grammar: its matcher tracks that request's output."""

    def __init__(self, grammars: Grammars, matcher: llguidance.LLMatcher) -> None:
        self.grammars, self.matcher = grammars, matcher

    def sampler(self, params: SamplingParams, choice: int = 0) -> ConstrainedSampler:
        """A sampler for choice ``choice`` of the request, with its own matcher state."""
        grammars = self.grammars
        matcher = self.matcher.deep_copy()  # a fresh state per generation
        eos = grammars.tokenizer.eos_token
        return ConstrainedSampler(params, matcher, grammars.vocab, eos, choice)


class ConstrainedSampler(Sampler):
    """A row's sampler that only chooses tokens its grammar allows."""

    def __init__(
        self,
        params: SamplingParams,
        matcher: llguidance.LLMatcher,
        vocab: int,
        eos: int,
        choice: int = 0,
    ) -> None:
        super().__init__(params, choice)
        self.matcher = matcher
        self.bitmask = np.zeros((vocab + 31) // 32, np.int32)
        self.eos = eos
        self.filled: np.ndarray | None = None  # this step's mask, computed by BatchMasks

    @property
    def live(self) -> bool:
        """Whether the grammar still chooses tokens (a stopped or broken one only ends)."""
        return not (self.matcher.is_stopped() or self.matcher.is_error())

    def __call__(self, logits: np.ndarray) -> int:
        bitmask, self.filled = self.filled, None
        if bitmask is None:  # not filled by a batch (a sampler used alone): compute it here
            if not self.live:
                return self.eos  # the grammar is complete (or broken): end the row
            self.matcher.unsafe_compute_mask_ptr(self.bitmask.ctypes.data, self.bitmask.nbytes)
            bitmask = self.bitmask
        if self.params.greedy:
            # The model's own choice, when the grammar allows it, is also the masked argmax:
            # one bit read instead of masking the whole vocabulary (most steps of a JSON).
            token = super().__call__(logits)
            allowed = token < bitmask.size * 32 and bitmask[token >> 5] >> (token & 31) & 1
            if allowed and np.isfinite(logits[token]):
                return token
        bits = bitmask.view(np.uint8)
        allowed = np.unpackbits(bits, count=logits.shape[-1], bitorder="little").view(bool)
        masked = np.where(allowed, logits, _MINUS_INF)  # a new row: the batch's stays intact
        if not np.isfinite(masked).any():
            return self.eos
        return super().__call__(masked)

    def observe(self, token: int) -> None:
        super().observe(token)
        self.matcher.consume_token(token)


@functools.cache
def _executor(threads: int) -> llguidance.LLExecutor:
    """llguidance's thread pool, one per process (every engine's batch shares it)."""
    return llguidance.LLExecutor(num_threads=threads)


class BatchMasks:
    """Computes the masks of every constrained row of a batch at once, after a decode step.

    One ``fill_next_token_bitmask_par`` call computes all the rows' masks on llguidance's
    own thread pool (the model's threads are idle between forward passes, so it gets their
    budget: the engine passes the model's count) instead of one call per row; each row's
    sampler then applies its own mask to its own logits row. ``seconds`` adds up the time
    spent, for benches and metrics.
    """

    def __init__(self, threads: int | None = None) -> None:
        self.threads = threads or len(os.sched_getaffinity(0))
        self.seconds = 0.0

    def fill(self, samplers: Sequence[object]) -> None:
        """Compute this step's mask for each live ``ConstrainedSampler`` among ``samplers``
        (a batch's rows, once its forward pass is done); other rows are left alone."""
        rows = [s for s in samplers if isinstance(s, ConstrainedSampler) and s.live]
        if not rows:
            return
        started = time.perf_counter()
        # One engine, one artifact: every row's grammar has the same tokenizer and mask size.
        bitmask = np.zeros((len(rows), rows[0].bitmask.size), np.int32)
        if len(rows) == 1:  # no pool hand-off for a lone row
            rows[0].matcher.unsafe_compute_mask_ptr(bitmask.ctypes.data, bitmask.nbytes)
        else:
            matchers = [(s.matcher, k) for k, s in enumerate(rows)]
            pool = _executor(self.threads)
            llguidance.numpy.fill_next_token_bitmask_par(pool, matchers, bitmask)
        for k, sampler in enumerate(rows):
            sampler.filled = bitmask[k]
        self.seconds += time.perf_counter() - started
