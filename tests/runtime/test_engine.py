"""The engine's scheduling: when a burst's first tokens go out."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from runtime.artifact import verify
from runtime.batch import SharedBatch
from runtime.engine import Engine, Event, Generation
from runtime.model import OnnxCausalLM
from runtime.sampling import Sampler, SamplingParams
from tests.runtime import builders

SYSTEM = list(range(100, 120))  # a shared start the prefix cache holds after the first


def test_each_joiner_gets_its_first_token_when_its_own_prefill_is_done(
    tiny_artifact: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Joiners with a cached prefix are prefilled one after another: the first of them
    must not wait for the last one's prefill to see its first token."""
    order: list[str] = []
    extend = SharedBatch._extend

    def traced(self: SharedBatch, slot: int, prompt: list[int], hit: object) -> np.ndarray:
        order.append(f"prefill {prompt[-1]}")
        return extend(self, slot, prompt, hit)  # type: ignore[arg-type]

    monkeypatch.setattr(SharedBatch, "_extend", traced)
    model = OnnxCausalLM(verify(builders.tiny_fused_artifact()), threads=1)
    engine = Engine(model, max_batch=8, prefix_cache_bytes=1 << 20)
    done = threading.Semaphore(0)

    def generation(last: int) -> Generation:
        def deliver(event: Event) -> None:
            if event.token is not None and f"token {last}" not in order:
                order.append(f"token {last}")
            if event.finish_reason is not None:
                done.release()

        sampler = Sampler(SamplingParams(temperature=0))
        return Generation([*SYSTEM, 7, last], 2, sampler, frozenset(), deliver)

    engine.submit(generation(1))  # fills the prefix cache
    engine.start()
    try:
        assert done.acquire(timeout=60)
        order.clear()
        engine.submit(*(generation(last) for last in (2, 3, 4)))
        for _ in range(3):
            assert done.acquire(timeout=60)
    finally:
        engine.stop()
    assert order[:6] == ["prefill 2", "token 2", "prefill 3", "token 3", "prefill 4", "token 4"]


def test_grammar_masks_use_the_models_thread_budget() -> None:
    """The task's vCPUs (SERVESPEC_THREADS), not every core the host shows: past the task's
    CPU quota, more mask threads only wait for it."""
    model = OnnxCausalLM(verify(builders.tiny_fused_artifact()), threads=1)
    assert Engine(model, max_batch=2, threads=3).masks.threads == 3
