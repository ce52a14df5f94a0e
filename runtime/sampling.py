"""Choosing the next token from one row's logits, OpenAI-style parameters."""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class SamplingParams:
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0  # 0: no limit
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    seed: int | None = None

    @property
    def greedy(self) -> bool:
        # Below this, dividing logits by the temperature overflows float64: the distribution
        # is a point mass on the argmax anyway.
        return self.temperature < GREEDY_BELOW or self.top_k == 1


GREEDY_BELOW = 1e-5


class Sampler:
    """Per-request state: its random generator and the counts the penalties need."""

    def __init__(self, params: SamplingParams) -> None:
        self.params = params
        # OpenAI seeds may be negative; numpy wants a non-negative integer.
        seed = None if params.seed is None else params.seed % 2**64
        self.rng = np.random.default_rng(seed)
        self.counts: dict[int, int] = {}

    def __call__(self, logits: np.ndarray) -> int:
        params = self.params
        if self.counts and (params.presence_penalty or params.frequency_penalty):
            logits = self._penalize(logits)
        if params.greedy:
            return int(np.argmax(logits))
        return self._sample(logits)

    def observe(self, token: int) -> None:
        self.counts[token] = self.counts.get(token, 0) + 1

    def _penalize(self, logits: np.ndarray) -> np.ndarray:
        # OpenAI's definition: subtract count * frequency + presence for generated tokens.
        ids = np.fromiter(self.counts.keys(), np.int64, len(self.counts))
        counts = np.fromiter(self.counts.values(), np.float32, len(self.counts))
        logits = logits.copy()
        logits[ids] -= counts * self.params.frequency_penalty + self.params.presence_penalty
        return logits

    def _sample(self, logits: np.ndarray) -> int:
        params = self.params
        vocab = logits.shape[0]
        ids: np.ndarray | None = None  # None: every token is a candidate
        if 0 < params.top_k < vocab:
            # Only the k best matter; argpartition avoids sorting the whole vocabulary.
            ids = np.argpartition(logits, -params.top_k)[-params.top_k :]
        values = (logits if ids is None else logits[ids]).astype(np.float64)
        if params.top_p < 1.0:
            order = np.argsort(values)[::-1]
            ids = order if ids is None else ids[order]
            values = values[order]
        scaled = values / params.temperature
        probs = np.exp(scaled - scaled.max())
        probs /= probs.sum()
        if params.top_p < 1.0:
            # Keep the smallest prefix whose mass reaches top_p (always at least one token).
            keep = int(np.searchsorted(np.cumsum(probs), params.top_p) + 1)
            probs = probs[:keep] / probs[:keep].sum()
        choice = int(self.rng.choice(probs.shape[0], p=probs))
        return choice if ids is None else int(ids[choice])
