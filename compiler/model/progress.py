"""Step names and timings on stderr, so a 3-minute build never looks hung."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from compiler.model.errors import BuildError, ModelPipelineError


def log(message: str) -> None:
    """Progress goes to stderr: stdout is reserved for the command's result."""
    print(f"[servespec model] {message}", file=sys.stderr, flush=True)


@contextmanager
def step(name: str, timings: dict[str, float] | None = None) -> Iterator[None]:
    """Time one build step; wrap unexpected failures so the user learns which step broke."""
    log(f"{name} ...")
    start = time.perf_counter()
    try:
        yield
    except ModelPipelineError:
        raise
    except Exception as exc:
        raise BuildError(name, f"{type(exc).__name__}: {exc}") from exc
    elapsed = time.perf_counter() - start
    if timings is not None:
        timings[name] = round(elapsed, 2)
    log(f"{name} done in {elapsed:.1f} s")


class TransferProgress:
    """A byte-count progress line for one upload (boto3 calls it from worker threads)."""

    def __init__(self, name: str, total: int) -> None:
        import threading

        self.name = name
        self.total = max(total, 1)
        self.done = 0
        self.shown = -1
        self.lock = threading.Lock()

    def __call__(self, chunk: int) -> None:
        with self.lock:
            self.done += chunk
            percent = min(100, self.done * 100 // self.total)
            if percent // 10 != self.shown // 10 or (sys.stderr.isatty() and percent != self.shown):
                self.shown = percent
                end = "\r" if sys.stderr.isatty() else "\n"
                print(
                    f"[servespec model] upload {self.name} {percent:3d}% "
                    f"({self.done / 2**20:.1f} / {self.total / 2**20:.1f} MiB)",
                    file=sys.stderr,
                    end=end,
                    flush=True,
                )

    def close(self) -> None:
        if sys.stderr.isatty():
            print(file=sys.stderr, flush=True)


@contextmanager
def quiet_third_party() -> Iterator[None]:
    """Silence warnings we have judged harmless (tracer notes, optimum's atol 1e-5 report).

    They would drown the step lines, and under pytest's `filterwarnings = error` they would
    fail the build; the parity and perplexity gates check what those warnings hint at.
    """
    import logging
    import warnings

    loggers = [logging.getLogger(n) for n in ("optimum", "transformers", "torch.onnx")]
    levels = [lg.level for lg in loggers]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for lg, level in zip(loggers, levels, strict=True):
                lg.setLevel(level)
