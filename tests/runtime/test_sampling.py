from __future__ import annotations

import numpy as np
import pytest

from runtime.sampling import Sampler, SamplingParams

LOGITS = np.array([0.0, 3.0, 1.0, 2.5, -1.0], np.float32)


def test_temperature_zero_is_argmax() -> None:
    assert Sampler(SamplingParams(temperature=0.0))(LOGITS) == 1


def test_top_k_one_is_argmax_at_any_temperature() -> None:
    assert Sampler(SamplingParams(temperature=2.0, top_k=1, seed=3))(LOGITS) == 1


def test_top_k_limits_the_candidates() -> None:
    sampler = Sampler(SamplingParams(temperature=2.0, top_k=2, seed=0))
    assert {sampler(LOGITS) for _ in range(200)} == {1, 3}


def test_top_p_keeps_the_smallest_sufficient_prefix() -> None:
    # softmax: token 1 ≈ 0.55, token 3 ≈ 0.33 → top_p 0.6 needs exactly those two.
    sampler = Sampler(SamplingParams(temperature=1.0, top_p=0.6, seed=0))
    assert {sampler(LOGITS) for _ in range(300)} == {1, 3}


def test_seed_reproduces_and_negative_seeds_work() -> None:
    def draw(seed: int) -> list[int]:
        sampler = Sampler(SamplingParams(temperature=1.5, seed=seed))
        return [sampler(LOGITS) for _ in range(30)]

    assert draw(-5) == draw(-5)
    assert draw(1) != draw(2)


def test_penalties_follow_openai_definition() -> None:
    sampler = Sampler(SamplingParams(temperature=0.0, presence_penalty=0.4, frequency_penalty=0.1))
    sampler.observe(1)
    sampler.observe(1)
    # token 1: 3.0 - 2 * 0.1 - 0.4 = 2.4 < 2.5
    assert sampler(LOGITS) == 3
    assert LOGITS[1] == 3.0  # the caller's logits are not modified


def test_tiny_temperature_is_greedy_instead_of_overflowing() -> None:
    # 1e-310 passes validation (>= 0); dividing logits by it used to give inf/NaN and a
    # ValueError that failed every request in the running batch.
    logits = np.array([0.5, 3.0, 1.0], np.float32)
    assert Sampler(SamplingParams(temperature=1e-310))(logits) == 1


def test_non_finite_logits_raise_what_the_engine_contains() -> None:
    with pytest.raises(ValueError):
        Sampler(SamplingParams(temperature=1.0, seed=1))(np.array([np.nan, np.nan], np.float32))
