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
    logit_bias: dict[int, float] | None = None  # added to those tokens' logits first

    @property
    def greedy(self) -> bool:
        # Below this, dividing logits by the temperature overflows float64: the distribution
        # is a point mass on the argmax anyway.
        return self.temperature < GREEDY_BELOW or self.top_k == 1


GREEDY_BELOW = 1e-5


class Sampler:
    """Per-request state: its random generator and the counts the penalties need."""

    def __init__(self, params: SamplingParams, choice: int = 0) -> None:
        self.params = params
        # OpenAI seeds may be negative; numpy wants a non-negative integer. Choice i of a
        # request with n > 1 draws from its own stream; choice 0 matches an n=1 request.
        seed = None if params.seed is None else params.seed % 2**64
        self.rng = np.random.default_rng([seed, choice] if seed is not None and choice else seed)
        self.counts: dict[int, int] = {}
        bias = params.logit_bias or {}
        self._bias_ids = np.fromiter(bias.keys(), np.int64, len(bias))
        self._bias = np.fromiter(bias.values(), np.float32, len(bias))

    def __call__(self, logits: np.ndarray) -> int:
        params = self.params
        if self._bias_ids.size:
            logits = logits.copy()
            logits[self._bias_ids] += self._bias
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


def logprobs(logits: np.ndarray, token: int, top: int) -> tuple[float, list[tuple[int, float]]]:
    """The chosen token's log-probability and the ``top`` most likely tokens', from the
    model's own distribution (before logit_bias, penalties and temperature, like vLLM)."""
    values = logits.astype(np.float64)
    shifted = values - values.max()
    log_total = np.log(np.exp(shifted).sum())
    chosen = float(shifted[token] - log_total)
    if top <= 0:
        return chosen, []
    best = np.argpartition(shifted, -top)[-top:]
    best = best[np.argsort(shifted[best])[::-1]]
    return chosen, [(int(i), float(shifted[i] - log_total)) for i in best]
