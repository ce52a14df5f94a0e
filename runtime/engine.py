"""Continuous batching: one thread owns the model and runs one batch that rows join and leave.

Between two decode steps the engine admits waiting requests (prefilled together as new rows
of the running batch's cache) and drops rows that finished, were cancelled or timed out. N clients
therefore share each forward pass instead of queuing behind each other. All ONNX Runtime
work happens on this thread, so the event loop never blocks on the model.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import threading
import time
from collections.abc import Callable

import numpy as np

from runtime import memory
from runtime.batch import new_batch
from runtime.grammar import BatchMasks
from runtime.model import OnnxCausalLM
from runtime.prefix import PrefixCache
from runtime.sampling import Sampler, logprobs

log = logging.getLogger("servespec.engine")


@dataclasses.dataclass(frozen=True)
class Event:
    """One step's result for one request: a token, and/or the reason it finished."""

    token: int | None
    finish_reason: str | None = None  # "stop", "length", "cancelled" or "error"
    error: str | None = None
    # With logprobs wanted: the token's log-probability and the top alternatives'.
    logprob: float | None = None
    top_logprobs: list[tuple[int, float]] | None = None


@dataclasses.dataclass(eq=False)
class Generation:
    prompt_ids: list[int]
    max_tokens: int
    sampler: Sampler
    stop_ids: frozenset[int]
    deliver: Callable[[Event], None]  # called on the engine thread; must not block
    top_logprobs: int | None = None  # None: no logprobs; k: the token's and k others'
    cancelled: bool = False  # set by the request's side; read between steps
    submitted: float = dataclasses.field(default_factory=time.perf_counter)
    generated: int = 0
    last_token: int = 0

    def cancel(self) -> None:
        self.cancelled = True


class Engine:
    def __init__(
        self,
        model: OnnxCausalLM,
        *,
        max_batch: int,
        prefill_token_budget: int = 1024,
        prefill_chunk_tokens: int = 0,
        prefix_cache_bytes: int = 0,
        on_step: Callable[[str, int, float], None] | None = None,
        on_cached: Callable[[int], None] | None = None,
        on_queued: Callable[[float], None] | None = None,
        threads: int | None = None,
    ) -> None:
        self.model = model
        self.max_batch = max_batch
        self.prefill_token_budget = prefill_token_budget
        self.prefill_chunk_tokens = prefill_chunk_tokens  # 0: prompts prefill in one go
        self.on_step = on_step  # (kind, rows, seconds) for metrics
        self.on_cached = on_cached  # prompt tokens a prefill took from the prefix cache
        self.on_queued = on_queued  # seconds a request waited before its prefill began
        self.prefixes = PrefixCache(prefix_cache_bytes) if prefix_cache_bytes > 0 else None
        self._waiting: collections.deque[Generation] = collections.deque()
        self._running: list[Generation] = []
        self._staged: Generation | None = None  # a long prompt being prefilled in chunks
        self._batch = new_batch(model, self.prefixes, max_batch)
        # Grammar rows' masks, all at once per step, on the model's thread budget (None: every
        # core): past the task's CPU quota more threads only wait for it.
        self.masks = BatchMasks(threads)
        self._wake = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name="servespec-engine", daemon=True)

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    @property
    def running(self) -> int:
        return len(self._running) + (self._staged is not None)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify()
        self._thread.join(timeout)

    def submit(self, *generations: Generation) -> None:
        """Queue a request's generations together (n > 1 shares one prefill when they are
        admitted in the same step); admission limits are the caller's job (it answers 429)."""
        with self._wake:
            self._waiting.extend(generations)
            self._wake.notify()

    def _loop(self) -> None:
        while True:
            with self._wake:
                while not (self._waiting or self._running or self._staged or self._stopping):
                    self._wake.wait()
                if self._stopping:
                    break
                joiners, long = self._take_joiners()
            try:
                if long is not None:
                    self._stage(long)
                if joiners:
                    self._admit(joiners)
                if self._staged is not None:
                    self._advance(self._staged)
                if self._running:
                    self._decode()
            except Exception as exc:  # a failed step must not kill the engine for good
                log.exception("engine step failed")
                extra = [*joiners, *([long] if long is not None else [])]
                self._fail_all(extra, f"{type(exc).__name__}: {exc}")
            if not (self._running or self._staged or self._waiting):
                # The batch drained and freed its KV buffers: hand the heap's free pages
                # back to the OS, so RSS falls back to its idle level between bursts.
                memory.release()
        self._fail_all(list(self._waiting), "server shutting down", reason="cancelled")

    def _take_joiners(self) -> tuple[list[Generation], Generation | None]:
        """Requests to prefill now, and at most one long prompt to prefill in chunks."""
        joiners: list[Generation] = []
        long: Generation | None = None
        width = 0
        while self._waiting and self.running + len(joiners) + (long is not None) < self.max_batch:
            candidate = self._waiting[0]
            if candidate.cancelled:
                self._waiting.popleft()
                candidate.deliver(Event(None, "cancelled"))
                continue
            if self._chunks(candidate):
                if self._staged is not None or long is not None:
                    break  # one long prompt at a time; the rest wait their turn
                long = self._waiting.popleft()
                continue
            wider = max(width, len(candidate.prompt_ids))
            # Bound one prefill's cost so rows already decoding do not stall for long.
            if joiners and wider * (len(joiners) + 1) > self.prefill_token_budget:
                break
            width = wider
            joiners.append(self._waiting.popleft())
        return joiners, long

    def _chunks(self, generation: Generation) -> bool:
        limit = self.prefill_chunk_tokens
        return 0 < limit < len(generation.prompt_ids) and self._batch.chunked

    def _stage(self, generation: Generation) -> None:
        self._queued([generation])
        cached = self._cached_so_far()
        self._batch.stage(generation.prompt_ids)
        self._staged = generation
        self._report_cached(cached)

    def _advance(self, generation: Generation) -> None:
        """One chunk of the staged prompt; then the decoding rows get their step."""
        if generation.cancelled:
            self._batch.unstage()
            self._staged = None
            generation.deliver(Event(None, "cancelled"))
            return
        started = time.perf_counter()
        logits = self._batch.advance(self.prefill_chunk_tokens)
        self._report("prefill", 1, started)
        if logits is None:
            return
        self._staged = None
        self._running.append(generation)
        if not self._emit(generation, logits):
            self._keep(list(range(len(self._running) - 1)))

    def _queued(self, generations: list[Generation]) -> None:
        if self.on_queued is not None:
            now = time.perf_counter()
            for generation in generations:
                self.on_queued(now - generation.submitted)

    def _admit(self, joiners: list[Generation]) -> None:
        """Prefill the joiners; each one's first token goes out as soon as its own prefill
        is done (joiners with a cached prefix are computed one after another), not when the
        last joiner's is, so most clients of a burst see their first token sooner."""
        self._queued(joiners)
        started = time.perf_counter()
        cached = self._cached_so_far()
        ended: list[int] = []

        def ready(index: int, logits: np.ndarray) -> None:
            if not self._emit(joiners[index], logits):
                ended.append(index)

        self._batch.admit([g.prompt_ids for g in joiners], ready)
        self._report("prefill", len(joiners), started)
        self._report_cached(cached)
        first = len(self._running)
        self._running.extend(joiners)
        done = {first + i for i in ended}
        if done:
            self._keep([i for i in range(len(self._running)) if i not in done])

    def _decode(self) -> None:
        live = [i for i, g in enumerate(self._running) if not g.cancelled]
        if len(live) < len(self._running):
            for g in self._running:
                if g.cancelled:
                    g.deliver(Event(None, "cancelled"))
            self._keep(live)
            if not self._running:
                return
        tokens = np.fromiter((g.last_token for g in self._running), np.int64, len(self._running))
        started = time.perf_counter()
        logits = self._batch.step(tokens)
        self._report("decode", len(tokens), started)
        self.masks.fill([g.sampler for g in self._running])
        self._keep([i for i, g in enumerate(self._running) if self._emit(g, logits[i])])

    def _emit(self, generation: Generation, logits: np.ndarray) -> bool:
        """Sample and deliver one token; returns whether the row keeps generating."""
        if generation.cancelled:
            generation.deliver(Event(None, "cancelled"))
            return False
        try:
            token = generation.sampler(logits)
        except (ValueError, FloatingPointError) as exc:
            # One row's sampling (odd parameters, non-finite logits) must not end the batch.
            generation.deliver(Event(None, "error", error=f"sampling failed: {exc}"))
            return False
        if token in generation.stop_ids:
            generation.deliver(Event(None, "stop"))
            return False
        generation.sampler.observe(token)
        generation.generated += 1
        generation.last_token = token
        done = generation.generated >= generation.max_tokens
        finish = "length" if done else None
        if generation.top_logprobs is None:
            generation.deliver(Event(token, finish))
        else:
            chosen, top = logprobs(logits, token, generation.top_logprobs)
            generation.deliver(Event(token, finish, logprob=chosen, top_logprobs=top))
        return not done

    def _keep(self, rows: list[int]) -> None:
        if len(rows) == len(self._running):
            return
        self._running = [self._running[i] for i in rows]
        self._batch.keep(rows)

    def _fail_all(self, extra: list[Generation], message: str, reason: str = "error") -> None:
        staged = [self._staged] if self._staged is not None else []
        for g in dict.fromkeys([*self._running, *staged, *extra]):  # a joiner may be in both
            g.deliver(Event(None, reason, error=message))
        # The failed step may have left the cache half-written: start from an empty one.
        self._running, self._staged = [], None
        self._batch = new_batch(self.model, self.prefixes, self.max_batch)
        if reason == "cancelled":
            self._waiting.clear()

    def _cached_so_far(self) -> int:
        return self.prefixes.hit_tokens if self.prefixes is not None else 0

    def _report_cached(self, before: int) -> None:
        if self.on_cached is not None and self._cached_so_far() > before:
            self.on_cached(self._cached_so_far() - before)

    def _report(self, kind: str, rows: int, started: float) -> None:
        if self.on_step is not None:
            self.on_step(kind, rows, time.perf_counter() - started)
