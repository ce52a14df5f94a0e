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
from runtime.batch import SharedBatch
from runtime.engine import Engine, Event, Generation
from runtime.errors import APIError
from runtime.metrics import Metrics
from runtime.model import OnnxCausalLM
from runtime.sampling import Sampler, SamplingParams
from runtime.service import ModelService
from tests.runtime import builders
from tests.runtime.conftest import settings_for


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


def _service(artifact: Path, memory_mib: int, rows: int = 4) -> ModelService:
    settings = settings_for(
        artifact, memory_mib=memory_mib, max_concurrent_requests=rows, max_queue=2
    )
    service = ModelService(settings, Metrics("test", "tiny"))
    service.load()
    return service


def _resident_for(artifact: Path, limit_mib: int, rows: int) -> int:
    """The resident size that leaves room for exactly ``rows`` rows in ``limit_mib``."""
    model = OnnxCausalLM(verify(artifact), threads=1)
    row = model.context_tokens * model.kv_bytes_per_token
    logits = (4 if model.last_only else model.context_tokens) * model.vocab * 4
    limit = limit_mib << 20
    headroom = max(memory.MIN_HEADROOM, limit // 10)
    return limit - headroom - (64 << 20) - logits - row - 2 * row * rows


def test_the_batch_holds_only_the_rows_whose_kv_fits_the_tasks_memory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """ECS kills a task past its hard memory limit, every stream with it: with room for 2
    rows of a full context, 2 decode at once, the queue waits behind them, and requests
    beyond rows + queue get 429 at once."""
    artifact = builders.tiny_fused_artifact()
    monkeypatch.setattr(memory, "resident_bytes", lambda: _resident_for(artifact, 1024, 2))
    service = _service(artifact, 1024)
    try:
        assert service.ready
        assert service.engine is not None and service.engine.max_batch == 2
        with (
            service.admit(),
            service.admit(),
            service.admit(),
            service.admit(),
            pytest.raises(APIError) as refused,
            service.admit(),
        ):
            pass
        assert refused.value.status == 429
    finally:
        service.close()


def test_a_task_that_cannot_hold_one_full_context_is_not_ready(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Serving would end in an OOM kill at the first long request: not ready, and the
    reason names the fields to change and the memory that would do."""
    artifact = builders.tiny_fused_artifact()
    monkeypatch.setattr(memory, "resident_bytes", lambda: _resident_for(artifact, 1024, 0))
    service = _service(artifact, 1024)
    assert service.status == "failed" and service.engine is None
    assert "compute.memory_mib 1024 holds the KV of 0 of" in service.reason
    assert "serving.max_concurrent_requests 4" in service.reason
    needed = int(service.reason.split("raise compute.memory_mib to ")[1].split(",")[0])
    monkeypatch.setattr(memory, "resident_bytes", lambda: _resident_for(artifact, 1024, 0))
    roomy = _service(artifact, needed)
    try:
        assert roomy.engine is not None and roomy.engine.max_batch == 4
    finally:
        roomy.close()


def test_without_a_memory_limit_the_setting_decides() -> None:
    service = _service(builders.tiny_fused_artifact(), 0, rows=3)
    try:
        assert service.engine is not None and service.engine.max_batch == 3
    finally:
        service.close()


def test_kv_buffers_never_outgrow_the_batch_or_the_context() -> None:
    """Geometric growth stops at ``max_rows`` slots and the context's positions: the memory
    bound counts rows x context, and heap-allocated buffers are resident in full."""
    model = OnnxCausalLM(verify(builders.tiny_fused_artifact()), threads=1)
    batch = SharedBatch(model, max_rows=3)
    for _ in range(3):  # slots 1, 2, then 3 (not 4)
        batch.admit([[5, 6, 7]])
    assert batch.buffers[0].shape[0] == 3
    context = model.context_tokens
    batch._reserve(3, context * 3 // 4 + 1)  # grows to 3/4 of the context...
    batch._reserve(3, context * 3 // 4 + SharedBatch.GROW + 1)  # then not 1.5x: the context
    assert batch.capacity == context
