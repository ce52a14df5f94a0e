"""The model service: loads and verifies the artifact, owns the engine, admits requests.

Readiness is a small state machine (starting → ready, or failed; ready → draining) that
``/readyz`` reports. Admission is bounded: beyond the engine's rows (``max_concurrent_requests``,
fewer where the task's memory cannot hold their KV) running plus ``max_queue`` waiting, a
request is refused at once (429 + ``Retry-After``) instead of waiting without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import AsyncGenerator, Iterator
from typing import Any

import numpy as np

from runtime import memory, structured
from runtime.artifact import Artifact, ArtifactError, open_artifact
from runtime.batch import new_batch
from runtime.engine import Engine, Event, Generation
from runtime.errors import APIError
from runtime.grammar import Grammar
from runtime.metrics import Metrics
from runtime.model import OnnxCausalLM
from runtime.sampling import Sampler, SamplingParams
from runtime.settings import Settings
from runtime.text import TextCodec

log = logging.getLogger("servespec.service")


class ModelService:
    def __init__(self, settings: Settings, metrics: Metrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.status = "starting"
        self.reason = "loading the model artifact"
        self.artifact: Artifact | None = None
        self.codec: TextCodec | None = None
        self.engine: Engine | None = None
        self.inflight = 0
        self.started = int(time.time())
        # Set when draining starts: streams still open shortly before the shutdown grace
        # ends get an error event and [DONE] instead of being cut mid-answer.
        self.stop_by = math.inf

    @property
    def ready(self) -> bool:
        return self.status == "ready"

    @property
    def model_name(self) -> str:
        if self.settings.served_model_name:
            return self.settings.served_model_name
        return self.artifact.name if self.artifact else ""

    def load(self) -> None:
        """Blocking: verify, open, warm up. Runs in a worker thread from the lifespan."""
        settings = self.settings
        try:
            artifact = open_artifact(
                settings.artifact,
                cache_dir=settings.cache_dir,
                s3_endpoint_url=settings.s3_endpoint_url,
            )
        except ArtifactError as exc:
            self.status, self.reason = "failed", f"artifact rejected: {exc}"
            log.error(
                "artifact rejected; not serving: %s", exc, extra={"artifact": settings.artifact}
            )
            return
        quantization = artifact.manifest.get("quantization", {})
        if settings.deterministic and quantization.get("accuracy_level", 0) != 0:
            self.status, self.reason = (
                "failed",
                (
                    "deterministic serving needs a batch-invariant artifact "
                    "(servespec model build --batch-invariant); this one has int4 kernels at "
                    f"accuracy level {quantization['accuracy_level']}"
                ),
            )
            log.error("artifact rejected; not serving: %s", self.reason)
            return
        self.artifact = artifact
        self.codec = TextCodec(artifact)
        model = OnnxCausalLM(artifact, threads=settings.intra_op_threads)
        structured.warm(artifact, model.vocab)  # llguidance's tokenizer: ~1 s, once, now
        self._warm_up(model)
        rows = self._rows(model, artifact.context_tokens)
        if rows < 1:
            return
        self.engine = engine = Engine(
            model,
            max_batch=rows,
            prefill_chunk_tokens=settings.prefill_chunk_tokens,
            prefix_cache_bytes=settings.prefix_cache_mb << 20,
            on_step=self.metrics.observe_step,
            on_cached=self.metrics.prefix_cache_hits.inc,
            on_queued=self.metrics.queue_time.observe,
            threads=settings.intra_op_threads,
        )
        self.metrics.model = self.model_name
        self.metrics.watch_engine(lambda: engine.running, lambda: engine.waiting)
        engine.start()
        self.status, self.reason = "ready", "ok"
        log.info(
            "model ready",
            extra={
                "model": artifact.name,
                "version": artifact.version,
                "threads": settings.intra_op_threads,
                "rows": rows,
            },
        )

    def _rows(self, model: OnnxCausalLM, context: int) -> int:
        """The batch's rows: ``max_concurrent_requests``, fewer where the task's memory
        cannot hold their KV at the full context (the rest wait in the queue), none (not
        ready) where it cannot hold one: an OOM kill would end every stream on the task."""
        settings = self.settings
        if not settings.memory_mib:
            return settings.max_concurrent_requests
        wanted = settings.max_concurrent_requests
        # Graphs that return every position's logits return a whole prompt's in one prefill.
        logits = (wanted if model.last_only else context) * model.vocab * 4
        fit = memory.rows_that_fit(
            settings.memory_mib << 20,
            memory.resident_bytes() + (settings.prefix_cache_mb << 20) + logits,
            context * model.kv_bytes_per_token,
            wanted,
        )
        if fit.rows >= wanted:
            return wanted
        message = (
            f"compute.memory_mib {settings.memory_mib} holds the KV of {fit.rows} of "
            f"serving.max_concurrent_requests {wanted} at model.context_tokens {context} "
            f"({fit.row_bytes / 2**20:.0f} MiB a row, twice while the cache grows); "
            f"raise compute.memory_mib to {fit.needed_mib}, or lower "
            "serving.max_concurrent_requests, model.context_tokens or serving.prefix_cache_mb"
        )
        if fit.rows < 1:
            self.status, self.reason = "failed", message
            log.error("not serving: %s", message)
        else:
            log.warning("serving %d requests at once: %s", fit.rows, message)
        return fit.rows

    def _warm_up(self, model: OnnxCausalLM) -> None:
        # The first run after load is several times slower (allocations, kernel selection);
        # pay that before /readyz says yes, not in a client's first request.
        batch = new_batch(model)
        logits = batch.admit([[model.pad_token_id] * 8])
        batch.step(np.argmax(logits, axis=-1))

    def drain(self) -> None:
        if self.status == "ready":
            self.status, self.reason = "draining", "shutting down"
            margin = min(DRAIN_MARGIN_S, self.settings.shutdown_grace_s / 2)
            self.stop_by = time.monotonic() + self.settings.shutdown_grace_s - margin

    def close(self) -> None:
        if self.engine is not None:
            self.engine.stop()

    @contextlib.contextmanager
    def admit(self) -> Iterator[None]:
        """Hold a slot for one request, or refuse it right away."""
        if self.status != "ready":
            raise APIError(
                503,
                f"Service not ready: {self.reason}.",
                code="not_ready",
                headers={"Retry-After": "5"},
            )
        assert self.engine is not None
        # The engine's rows, not the setting: fewer where memory bounds them (``_rows``).
        limit = self.engine.max_batch + self.settings.max_queue
        if self.inflight >= limit:
            self.metrics.rejected.labels("overloaded").inc()
            raise APIError(
                429,
                "The server is at capacity; retry shortly.",
                code="server_overloaded",
                headers={"Retry-After": "1"},
            )
        self.inflight += 1
        try:
            yield
        finally:
            self.inflight -= 1

    def generate(
        self,
        prompt_ids: list[int],
        *,
        max_tokens: int,
        params: SamplingParams,
        deadline: float,
        grammar: Grammar | None = None,
        n: int = 1,
        top_logprobs: int | None = None,
        cleanup: contextlib.ExitStack | None = None,
    ) -> list[AsyncGenerator[Event, None]]:
        """Submit ``n`` generations of one prompt together (they share its prefill); one
        event stream each. Leaving a stream early (client gone, stop string hit, timeout)
        cancels its row, and the engine drops it before the next decode step; so does
        closing ``cleanup``, for streams that were never started. Each choice
        decodes under its own copy of ``grammar``'s state."""
        assert self.engine is not None and self.artifact is not None
        loop = asyncio.get_running_loop()
        streams, generations = [], []
        for choice in range(n):
            queue: asyncio.Queue[Event] = asyncio.Queue()
            generation = Generation(
                prompt_ids=prompt_ids,
                max_tokens=max_tokens,
                sampler=(
                    Sampler(params, choice) if grammar is None else grammar.sampler(params, choice)
                ),
                stop_ids=frozenset(self.artifact.eos_token_ids),
                deliver=_deliverer(loop, queue),
                top_logprobs=top_logprobs,
            )
            generations.append(generation)
            if cleanup is not None:
                cleanup.callback(generation.cancel)
            streams.append(self._events(generation, queue, deadline))
        self.engine.submit(*generations)
        return streams

    async def _events(
        self, generation: Generation, queue: asyncio.Queue[Event], deadline: float
    ) -> AsyncGenerator[Event, None]:
        try:
            while True:
                now = time.monotonic()
                if now >= deadline:
                    raise TimeoutError
                if now >= self.stop_by:
                    raise APIError(503, "The server is shutting down; retry.", code="shutting_down")
                # Wake at least every second to notice a drain; not asyncio.wait_for: on
                # 3.11 it swallows a cancellation that arrives as the event does.
                try:
                    async with asyncio.timeout(min(deadline, self.stop_by, now + 1) - now):
                        event = await queue.get()
                except TimeoutError:
                    continue
                yield event
                if event.finish_reason is not None:
                    return
        finally:
            generation.cancel()


DRAIN_MARGIN_S = 2.0  # streams end this long before the grace, so the error event gets out


def _deliverer(loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[Event]) -> Any:
    def deliver(event: Event) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is gone at shutdown
            loop.call_soon_threadsafe(queue.put_nowait, event)

    return deliver
