"""The fused graph's serving path over real HTTP: in-place KV buffers and the prefix cache.

The tiny fused artifact is fp32 (no quantized kernels), so a row's greedy answer must not
depend on what else is in the batch or on whether its prompt's start came from the cache.
"""

from __future__ import annotations

import concurrent.futures
import re
import time
from collections.abc import Iterator

import httpx
import numpy as np
import pytest

from runtime.batch import SharedBatch
from tests.runtime import builders

# PROMPTS: the chat template's system prompt gives every one of them a shared start.
from tests.runtime.conftest import PROMPTS, LiveServer, running, settings_for


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    settings = settings_for(builders.tiny_fused_artifact(), max_concurrent_requests=8)
    with running(settings) as live:
        yield live


def _ask(server: LiveServer, prompt: str) -> str:
    reply = server.client().chat.completions.create(
        model=server.service.model_name,
        messages=[{"role": "user", "content": prompt}],
        temperature=0,
        max_tokens=12,
    )
    return str(reply.choices[0].message.content)


def _metric(server: LiveServer, pattern: str) -> float:
    text = server.http().get("/metrics").text
    return sum(float(v) for v in re.findall(f"^{pattern} (\\S+)$", text, re.MULTILINE))


def test_concurrent_clients_get_their_solo_answers(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    solo = [_ask(server, p) for p in PROMPTS]
    # The tiny model finishes a request in milliseconds: pace its steps so that the
    # staggered requests really overlap.
    step = SharedBatch.step

    def paced(self: SharedBatch, tokens: np.ndarray) -> np.ndarray:
        time.sleep(0.01)
        return step(self, tokens)

    monkeypatch.setattr(SharedBatch, "step", paced)
    rows = r'servespec_batch_size_sum\{kind="decode"\}'
    steps = r'servespec_batch_size_count\{kind="decode"\}'
    before = _metric(server, rows), _metric(server, steps)

    def staggered(index: int) -> str:
        time.sleep(0.05 * index)  # rows join a batch that is already decoding
        return _ask(server, PROMPTS[index])

    with concurrent.futures.ThreadPoolExecutor(len(PROMPTS)) as pool:
        together = list(pool.map(staggered, range(len(PROMPTS))))
    assert together == solo
    shared_rows = _metric(server, rows) - before[0]
    assert shared_rows / (_metric(server, steps) - before[1]) > 1.5


def test_prompts_reuse_the_cached_system_prompt(server: LiveServer) -> None:
    hits = "servespec_prefix_cache_hit_tokens_total"
    before = _metric(server, hits)
    first = _ask(server, "Name a fruit.")
    after_first = _metric(server, hits)
    again = _ask(server, "Name a fruit.")
    assert again == first
    assert after_first > before  # the system prompt came from an earlier request
    assert _metric(server, hits) - after_first > after_first - before  # the whole prompt


def test_answers_do_not_depend_on_the_prefix_cache(server: LiveServer) -> None:
    cached = [_ask(server, p) for p in PROMPTS]
    settings = settings_for(builders.tiny_fused_artifact(), prefix_cache_mb=0)
    with running(settings) as cold:
        assert [_ask(cold, p) for p in PROMPTS] == cached
        assert _metric(cold, "servespec_prefix_cache_hit_tokens_total") == 0


def test_long_prompts_prefill_in_chunks_and_answer_the_same() -> None:
    long = "Summarize this: " + "the quick brown fox jumps over the lazy dog. " * 12
    prompts = [long, PROMPTS[0]]
    artifact = builders.tiny_fused_artifact()
    with running(settings_for(artifact, prefill_chunk_tokens=0)) as whole:
        expected = [_ask(whole, p) for p in prompts]
    settings = settings_for(artifact, prefill_chunk_tokens=16, prefix_cache_mb=0)
    prefills = r'servespec_forward_duration_seconds_count\{kind="prefill"\}'
    with running(settings) as chunked:
        before = _metric(chunked, prefills)
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(lambda p: _ask(chunked, p), prompts))
        assert answers == expected
        assert _metric(chunked, prefills) - before >= 120 // 16  # the long one, in chunks


def test_a_client_leaving_during_a_chunked_prefill_frees_the_engine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    advance = SharedBatch.advance

    def paced(self: SharedBatch, tokens: int) -> np.ndarray | None:
        time.sleep(0.05)  # 120 tokens in chunks of 4: about 1.5 s if nobody stops it
        return advance(self, tokens)

    monkeypatch.setattr(SharedBatch, "advance", paced)
    settings = settings_for(builders.tiny_fused_artifact(), prefill_chunk_tokens=4)
    with running(settings) as live:
        long = "Summarize this: " + "the quick brown fox jumps over the lazy dog. " * 12
        body = {"model": live.service.model_name, "messages": [{"role": "user", "content": long}]}
        with live.http() as http, pytest.raises(httpx.ReadTimeout):
            http.post("/v1/chat/completions", json=body, timeout=httpx.Timeout(30.0, read=0.2))
        engine = live.service.engine
        assert engine is not None
        deadline = time.monotonic() + 1.0
        while engine.running and time.monotonic() < deadline:
            time.sleep(0.01)
        assert engine.running == 0
