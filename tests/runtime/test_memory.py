"""Memory follows the load: a drained engine holds no KV buffers and gives freed heap back."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from runtime import memory
from runtime.artifact import verify
from runtime.engine import Engine, Event, Generation
from runtime.model import OnnxCausalLM
from runtime.sampling import Sampler, SamplingParams
from tests.runtime import builders


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_a_drained_engine_frees_its_kv_and_trims_the_heap(
    tiny_artifact: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    released = threading.Event()
    monkeypatch.setattr(memory, "release", released.set)
    model = OnnxCausalLM(verify(builders.tiny_fused_artifact()), threads=1)
    engine = Engine(model, max_batch=4, prefix_cache_bytes=1 << 20)
    finished: list[Event] = []
    prompts = [[5, 6, 7, 8, 9, 10, 11], [20, 21], [30, 31, 32, 33]]
    for max_tokens, prompt in zip((3, 9, 6), prompts, strict=True):
        sampler = Sampler(SamplingParams(temperature=0))
        engine.submit(Generation(prompt, max_tokens, sampler, frozenset(), finished.append))
    engine.start()
    try:
        assert released.wait(60), "the engine never released memory after draining"
        deadline = time.monotonic() + 60
        while sum(e.finish_reason is not None for e in finished) < 3:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert engine.running == 0
        assert engine._batch.buffers == []  # type: ignore[attr-defined]
    finally:
        engine.stop()


_HEAP_SCRIPT = """
import numpy as np
from pathlib import Path
from runtime import memory

def rss():
    status = Path("/proc/self/status").read_text().splitlines()
    return next(int(s.split()[1]) for s in status if s.startswith("VmRSS:")) / 1024

big = np.ones(30 << 20, np.uint8)
del big  # glibc's mmap threshold is now ~30 MiB: the blocks below come from the heap
blocks, pins = [], []
for _ in range(64):  # 128 MiB, touched, with small live blocks between them (as in real
    blocks.append(np.ones(2 << 20, np.uint8))  # traffic), so that freeing them does not
    pins.append(np.ones(1 << 12, np.uint8))  # merely shrink the heap's top
holding = rss()
del blocks
freed = holding - rss()
print(freed, holding - rss() if memory.release() else "none")
"""


def test_release_hands_freed_heap_pages_back_to_the_os() -> None:
    """Freed blocks stay resident in glibc's heap until ``release`` trims it (a fresh
    interpreter, so the heap's layout is the script's own)."""
    done = subprocess.run(
        [sys.executable, "-c", _HEAP_SCRIPT], capture_output=True, text=True, check=True
    )
    freed, released = done.stdout.split()
    if released == "none":
        pytest.skip("this C library has no malloc_trim")
    assert float(freed) < 50  # freed, yet still resident
    assert float(released) > 100
