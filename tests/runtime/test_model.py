"""The cache layout: rows joining and leaving a batch see what they would see alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from runtime.artifact import verify
from runtime.model import OnnxCausalLM, merge, select
from tests.runtime import builders


@pytest.fixture(scope="module", params=["left", "right"])
def model(request: pytest.FixtureRequest, tiny_artifact: Path) -> OnnxCausalLM:
    """optimum's export (left padding) and the pipeline's fused graph (right padding)."""
    artifact = tiny_artifact if request.param == "left" else builders.tiny_fused_artifact()
    loaded = OnnxCausalLM(verify(artifact), threads=1)
    assert loaded.right_padded == (request.param == "right")
    return loaded


def _solo(model: OnnxCausalLM, prompt: list[int], steps: int) -> list[np.ndarray]:
    logits, cache = model.prefill([prompt])
    out = [logits[0]]
    for _ in range(steps):
        logits, cache = model.decode(np.array([int(logits[0].argmax())]), cache)
        out.append(logits[0])
    return out


def test_rows_joining_and_leaving_match_solo_runs(model: OnnxCausalLM) -> None:
    prompts = [[5, 6, 7, 8, 9, 10, 11], [20, 21], [30, 31, 32, 33]]
    solo = [_solo(model, p, 6) for p in prompts]
    logits, cache = model.prefill([prompts[0]])
    seen: dict[int, list[np.ndarray]] = {0: [logits[0]]}
    rows = [0]
    for step in range(8):
        if step == 1:  # two rows join a batch that is already decoding
            new_logits, new_cache = model.prefill(prompts[1:])
            cache, logits = merge(cache, new_cache), np.concatenate([logits, new_logits])
            rows += [1, 2]
            seen.update({1: [new_logits[0]], 2: [new_logits[1]]})
        finished = [i for i, r in enumerate(rows) if len(seen[r]) == len(solo[r])]
        if finished:  # a row leaves; the rest keep their cache
            keep = [i for i in range(len(rows)) if i not in finished]
            cache, logits, rows = select(cache, keep), logits[keep], [rows[i] for i in keep]
        if not rows:
            break
        logits, cache = model.decode(logits.argmax(axis=1), cache)
        for i, r in enumerate(rows):
            seen[r].append(logits[i])
    for r in range(3):
        assert len(seen[r]) == len(solo[r])
        for got, want in zip(seen[r], solo[r], strict=True):
            assert int(got.argmax()) == int(want.argmax())
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-4)


def test_select_trims_columns_no_row_uses(model: OnnxCausalLM) -> None:
    _, cache = model.prefill([[1, 2, 3, 4, 5, 6], [7, 8]])
    assert cache.mask.shape == (2, 6)
    short = select(cache, [1])
    assert short.mask.tolist() == [[1, 1]]
    assert all(p.shape[2] == 2 for p in short.past)
