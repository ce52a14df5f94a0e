"""The model service: loads and verifies the artifact, owns the engine, admits requests.

Readiness is a small state machine (starting → ready, or failed; ready → draining) that
``/readyz`` reports. Admission is bounded: beyond ``max_concurrent_requests`` running plus
``max_queue`` waiting, a request is refused at once (429 + ``Retry-After``) instead of
waiting without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, Iterator

import numpy as np

from runtime import structured
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
        self.artifact = artifact
        self.codec = TextCodec(artifact)
        model = OnnxCausalLM(artifact, threads=settings.intra_op_threads)
        self.engine = engine = Engine(
            model,
            max_batch=settings.max_concurrent_requests,
            prefill_chunk_tokens=settings.prefill_chunk_tokens,
            prefix_cache_bytes=settings.prefix_cache_mb << 20,
            on_step=self.metrics.observe_step,
            on_cached=self.metrics.prefix_cache_hits.inc,
        )
        self.metrics.model = self.model_name
        structured.warm(artifact, model.vocab)  # llguidance's tokenizer: ~1 s, once, now
        self.metrics.watch_engine(lambda: engine.running, lambda: engine.waiting)
        self._warm_up(model)
        self.engine.start()
        self.status, self.reason = "ready", "ok"
        log.info(
            "model ready",
            extra={
                "model": artifact.name,
                "version": artifact.version,
                "threads": settings.intra_op_threads,
            },
        )

    def _warm_up(self, model: OnnxCausalLM) -> None:
        # The first run after load is several times slower (allocations, kernel selection);
        # pay that before /readyz says yes, not in a client's first request.
        batch = new_batch(model)
        logits = batch.admit([[model.pad_token_id] * 8])
        batch.step(np.argmax(logits, axis=-1))

    def drain(self) -> None:
        if self.status == "ready":
            self.status, self.reason = "draining", "shutting down"

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
        limit = self.settings.max_concurrent_requests + self.settings.max_queue
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

    async def generate(
        self,
        prompt_ids: list[int],
        *,
        max_tokens: int,
        params: SamplingParams,
        deadline: float,
        grammar: Grammar | None = None,
    ) -> AsyncGenerator[Event, None]:
        """Yield engine events for one request until it finishes; cancel it on exit.

        Leaving early (client gone, stop string hit, timeout) cancels the row, and the
        engine drops it before the next decode step.
        """
        assert self.engine is not None and self.artifact is not None
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Event] = asyncio.Queue()

        def deliver(event: Event) -> None:
            with contextlib.suppress(RuntimeError):  # the loop is gone at shutdown
                loop.call_soon_threadsafe(queue.put_nowait, event)

        generation = Generation(
            prompt_ids=prompt_ids,
            max_tokens=max_tokens,
            sampler=Sampler(params) if grammar is None else grammar.sampler(params),
            stop_ids=frozenset(self.artifact.eos_token_ids),
            deliver=deliver,
        )
        self.engine.submit(generation)
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError
                # Not asyncio.wait_for: on 3.11 it swallows a cancellation that arrives as
                # the event does (the client left, yet the row kept generating).
                async with asyncio.timeout(remaining):
                    event = await queue.get()
                yield event
                if event.finish_reason is not None:
                    return
        finally:
            generation.cancel()
