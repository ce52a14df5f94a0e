"""The cache layouts: rows joining and leaving a batch see what they would see alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from runtime.artifact import verify
from runtime.batch import Batch, ConcatBatch, SharedBatch, new_batch
from runtime.model import OnnxCausalLM, select
from runtime.prefix import PrefixCache
from tests.runtime import builders


@pytest.fixture(scope="module", params=["left", "right"])
def model(request: pytest.FixtureRequest, tiny_artifact: Path) -> OnnxCausalLM:
    """optimum's export (left padding) and the pipeline's fused graph (right padding)."""
    artifact = tiny_artifact if request.param == "left" else builders.tiny_fused_artifact()
    loaded = OnnxCausalLM(verify(artifact), threads=1)
    assert loaded.right_padded == (request.param == "right")
    return loaded


@pytest.fixture
def small_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    """Grow the shared buffers a few positions at a time, so every test crosses a growth."""
    monkeypatch.setattr(SharedBatch, "GROW", 4)


PROMPTS = [[5, 6, 7, 8, 9, 10, 11], [20, 21], [30, 31, 32, 33]]


def _solo(model: OnnxCausalLM, prompt: list[int], steps: int) -> list[np.ndarray]:
    batch = new_batch(model)
    logits = batch.admit([prompt])
    out = [logits[0].copy()]
    for _ in range(steps):
        logits = batch.step(np.array([int(logits[0].argmax())]))
        out.append(logits[0].copy())
    return out


def test_the_graph_picks_its_layout(model: OnnxCausalLM) -> None:
    expected = SharedBatch if model.right_padded else ConcatBatch
    assert isinstance(new_batch(model), expected)


@pytest.mark.usefixtures("small_steps")
def test_rows_joining_and_leaving_match_solo_runs(model: OnnxCausalLM) -> None:
    solo = [_solo(model, p, 6 + 2 * i) for i, p in enumerate(PROMPTS)]
    batch: Batch = new_batch(model)
    logits = batch.admit([PROMPTS[0]]).copy()
    seen: dict[int, list[np.ndarray]] = {0: [logits[0]]}
    rows = [0]
    for step in range(12):
        if step == 1:  # two rows join a batch that is already decoding
            new_logits = batch.admit(PROMPTS[1:]).copy()
            logits = np.concatenate([logits, new_logits])
            rows += [1, 2]
            seen.update({1: [new_logits[0]], 2: [new_logits[1]]})
        finished = [i for i, r in enumerate(rows) if len(seen[r]) == len(solo[r])]
        if finished:  # rows leave; the rest keep their cache
            keep = [i for i in range(len(rows)) if i not in finished]
            batch.keep(keep)
            logits, rows = logits[keep], [rows[i] for i in keep]
        assert batch.rows == len(rows)
        if not rows:
            break
        logits = batch.step(logits.argmax(axis=1)).copy()
        for i, r in enumerate(rows):
            seen[r].append(logits[i])
    for r in range(3):
        assert len(seen[r]) == len(solo[r])
        for got, want in zip(seen[r], solo[r], strict=True):
            assert int(got.argmax()) == int(want.argmax())
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-4)


@pytest.mark.usefixtures("small_steps")
def test_a_middle_row_leaving_moves_the_later_rows_down(model: OnnxCausalLM) -> None:
    solo = _solo(model, PROMPTS[2], 3)
    batch = new_batch(model)
    batch.admit(PROMPTS)
    batch.keep([2])  # rows 0 and 1 leave: row 2 now sits in slot 0
    logits = batch.step(np.array([int(solo[0].argmax())]))
    np.testing.assert_allclose(logits[0], solo[1], rtol=0, atol=1e-4)


def test_shared_buffers_are_written_in_place(tiny_artifact: Path) -> None:
    """A decode step must not reallocate or copy the cache: the buffers stay the same."""
    model = OnnxCausalLM(verify(builders.tiny_fused_artifact()), threads=1)
    batch = new_batch(model)
    assert isinstance(batch, SharedBatch)
    batch.admit(PROMPTS)
    buffers = [id(b) for b in batch.buffers]
    before = [b.copy() for b in batch.buffers]
    batch.step(np.array([7, 8, 9]))  # not the pad token: padding columns hold its KV
    assert [id(b) for b in batch.buffers] == buffers
    for row, length in enumerate(batch.lengths - 1):  # one new column per row, at its length
        changed = np.flatnonzero((batch.buffers[0][row] != before[0][row]).any(axis=(0, 2)))
        assert changed.tolist() == [length]


def test_shared_buffers_grow_rarely_and_keep_every_row(tiny_artifact: Path) -> None:
    model = OnnxCausalLM(verify(builders.tiny_fused_artifact()), threads=1)
    batch = new_batch(model)
    assert isinstance(batch, SharedBatch)
    solo = [_solo(model, p, 1)[1] for p in PROMPTS]
    for prompt in PROMPTS:  # one row at a time: 1 slot, then 2, then 4
        batch.admit([prompt])
    assert batch.buffers[0].shape[0] == 4
    logits = batch.step(np.array([int(s.argmax()) for s in _first_logits(model)]))
    np.testing.assert_allclose(logits, np.stack(solo), rtol=0, atol=1e-4)
    batch.keep([])
    assert batch.rows == 0 and batch.buffers == []  # a drained batch holds no KV memory
    again = batch.admit([PROMPTS[0]])  # and allocates afresh for the next requests
    np.testing.assert_allclose(again[0], _solo(model, PROMPTS[0], 0)[0], rtol=0, atol=1e-4)


@pytest.mark.usefixtures("small_steps")
def test_buffers_shrink_to_the_rows_left(tiny_artifact: Path) -> None:
    """Memory follows the live rows: when most rows leave, the buffers shrink to fit the
    rest (slots and positions), and the row left decodes exactly as it would alone."""
    model = OnnxCausalLM(verify(builders.tiny_fused_artifact()), threads=1)
    long_prompt = list(range(5, 45))
    solo = _solo(model, PROMPTS[1], 1)
    batch = new_batch(model)
    assert isinstance(batch, SharedBatch)
    batch.admit([long_prompt, *PROMPTS, *PROMPTS, PROMPTS[1]])
    slots, capacity = batch.buffers[0].shape[0], batch.capacity
    assert (slots, capacity) == (8, 40)
    batch.keep([7])  # only the short prompt [20, 21] stays
    assert batch.buffers[0].shape[0] == 2 and batch.capacity == 8
    logits = batch.step(np.array([int(solo[0].argmax())]))
    np.testing.assert_allclose(logits[0], solo[1], rtol=0, atol=1e-4)


def _first_logits(model: OnnxCausalLM) -> list[np.ndarray]:
    return [new_batch(model).admit([p])[0].copy() for p in PROMPTS]


def test_select_trims_columns_no_row_uses(model: OnnxCausalLM) -> None:
    _, cache = model.prefill([[1, 2, 3, 4, 5, 6], [7, 8]])
    assert cache.mask.shape == (2, 6)
    short = select(cache, [1])
    assert short.mask.tolist() == [[1, 1]]
    assert all(p.shape[2] == 2 for p in short.past)


SYSTEM = list(range(100, 130))  # a 30-token shared start, like a system prompt


def test_a_cached_prefix_gives_the_cold_logits(tiny_artifact: Path) -> None:
    model = OnnxCausalLM(verify(builders.tiny_fused_artifact()), threads=1)
    cold = [new_batch(model).admit([SYSTEM + tail])[0].copy() for tail in ([7, 8], [9, 10, 11])]
    prefixes = PrefixCache(1 << 20)
    batch = new_batch(model, prefixes)
    batch.admit([[*SYSTEM, 7, 8]])
    warm = batch.admit([[*SYSTEM, 9, 10, 11]])[0]
    assert prefixes.hit_tokens == len(SYSTEM)
    np.testing.assert_allclose(warm, cold[1], rtol=0, atol=1e-5)
    # ...and the reused row decodes like a cold one.
    token = int(cold[1].argmax())
    alone = new_batch(model)
    alone.admit([[*SYSTEM, 9, 10, 11]])
    expected = alone.step(np.array([token]))[0]
    np.testing.assert_allclose(batch.step(np.array([1, token]))[1], expected, atol=1e-5)


def test_prompts_arriving_together_share_their_prefix(tiny_artifact: Path) -> None:
    model = OnnxCausalLM(verify(builders.tiny_fused_artifact()), threads=1)
    prompts = [[*SYSTEM, 7, 8], [40] * 20, [*SYSTEM, 9, 10, 11], [*SYSTEM, 12]]
    cold = new_batch(model).admit(prompts)
    prefixes = PrefixCache(1 << 20)
    warm = new_batch(model, prefixes).admit(prompts)
    # The first computes it, two reuse it; [*SYSTEM, 12] keeps two tokens to compute (MIN_TAIL).
    assert prefixes.hit_tokens == len(SYSTEM) + len(SYSTEM) - 1
    np.testing.assert_allclose(warm, cold, rtol=0, atol=1e-5)


def test_prefix_cache_is_bounded_and_least_recently_used() -> None:
    def kv(length: int) -> list[np.ndarray]:
        return [np.full((1, length, 2), float(length), np.float32)]

    cache = PrefixCache(budget_bytes=3 * 20 * 8)  # room for three 20-token prompts
    for start in (0, 100, 200):
        cache.store(list(range(start, start + 20)), kv(20))
    assert cache.lookup(list(range(0, 25))) is not None  # 0.. is now the most recent
    cache.store(list(range(300, 320)), kv(20))  # evicts 100..
    assert len(cache) == 3 and cache.used <= cache.budget
    assert cache.lookup(list(range(100, 125))) is None
    hit = cache.lookup(list(range(0, 20)))
    assert hit is not None and hit.length == 18  # the last two tokens are always computed
    assert cache.lookup(list(range(0, 10)) + [999] * 10) is None  # below MIN_REUSE
    cache.store(list(range(0, 40)), kv(40))  # replaces the entry it extends, evicts one more
    assert len(cache) == 2 and cache.used == 20 * 8 + 40 * 8
    longer = cache.lookup(list(range(0, 42)))
    assert longer is not None and longer.length == 40


def test_a_long_prompt_prefilled_in_chunks_joins_like_a_cold_one(tiny_artifact: Path) -> None:
    model = OnnxCausalLM(verify(builders.tiny_fused_artifact()), threads=1)
    long = list(range(200, 223))
    batch = new_batch(model)
    assert batch.chunked
    seen = [batch.admit([PROMPTS[0]])[0].copy()]
    batch.stage(long)
    # 5 tokens per engine step, and the short row decodes between the chunks.
    while (joined := batch.advance(5)) is None:
        seen.append(batch.step(np.array([int(seen[-1].argmax())]))[0].copy())
    assert batch.rows == 2 and len(seen) == 5  # 23 tokens: 5 chunks, 4 steps between
    both = batch.step(np.array([int(seen[-1].argmax()), int(joined.argmax())]))
    solo_long = _solo(model, long, 1)
    np.testing.assert_allclose(joined, solo_long[0], rtol=0, atol=1e-5)
    np.testing.assert_allclose(both[1], solo_long[1], rtol=0, atol=1e-5)
    solo_short = _solo(model, PROMPTS[0], len(seen))
    for got, want in zip([*seen, both[0]], solo_short, strict=True):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)


def test_a_staged_prompt_starts_from_the_prefix_cache(tiny_artifact: Path) -> None:
    model = OnnxCausalLM(verify(builders.tiny_fused_artifact()), threads=1)
    prompt = [*SYSTEM, *range(300, 320)]
    cold = new_batch(model).admit([prompt])[0]
    prefixes = PrefixCache(1 << 20)
    batch = new_batch(model, prefixes)
    batch.admit([[*SYSTEM, 7]])
    batch.stage(prompt)
    assert prefixes.hit_tokens == len(SYSTEM)
    chunks = 1
    while (joined := batch.advance(8)) is None:
        chunks += 1
    assert chunks == 3  # 20 tokens left after the cached 30, 8 at a time
    np.testing.assert_allclose(joined, cold, rtol=0, atol=1e-5)
