"""The throughput cost of constrained decoding, on the engine alone (no HTTP).

    .venv/bin/python bench/structured_cost.py [--artifact DIR] [--reps 5] [--max-tokens 64]

N requests (1 and 16) decode together in one engine, either all free or all under the
json_schema grammar of ``server_bench.py`` (a title and a story of at least 2,000
characters, which no row finishes within ``max_tokens``). Free rows ignore EOS (as vLLM's
``--ignore-eos``): a free row that stopped early would leave the batch narrower and its
mode slower for a reason that is not the mask. So both modes decode the same number of
tokens. Modes are interleaved within each repetition; medians are reported. Without the
HTTP server and its client in the way, the number is the mask's own cost, which noise on
a shared machine would otherwise hide.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from runtime_bench import _default_artifact, prompts_for  # noqa: E402
from server_bench import SCHEMA  # noqa: E402

from runtime.artifact import verify  # noqa: E402
from runtime.engine import Engine, Event, Generation  # noqa: E402
from runtime.grammar import json_schema_grammar  # noqa: E402
from runtime.model import OnnxCausalLM  # noqa: E402
from runtime.sampling import Sampler, SamplingParams  # noqa: E402
from runtime.structured import grammars_for  # noqa: E402
from runtime.text import TextCodec  # noqa: E402


def timed(sampler: Sampler, total: list[float]) -> Sampler:
    """The same sampler, adding the time it spends (masking included) to a shared total.

    Its class is swapped for a timing subclass rather than wrapped, so the engine still sees
    a ConstrainedSampler and masks its row with the batch's other grammar rows.
    """
    base = type(sampler)

    class Timed(base):  # type: ignore[valid-type,misc]
        def __call__(self, logits):  # type: ignore[no-untyped-def]
            started = time.perf_counter()
            token = super().__call__(logits)
            total[0] += time.perf_counter() - started
            return token

        def observe(self, token: int) -> None:
            started = time.perf_counter()
            super().observe(token)
            total[0] += time.perf_counter() - started

    sampler.__class__ = Timed
    return sampler


def run(
    engine: Engine, prompts: list[list[int]], max_tokens: int, make_sampler
) -> tuple[float, float]:
    """Decode ``prompts`` together: aggregate tokens/s, and the share of the wall time the
    rows' samplers and the batch's mask fills took (a noise-robust view of the mask's own
    cost)."""
    done = threading.Semaphore(0)
    counts = [0] * len(prompts)
    spent = [0.0]
    filled = engine.masks.seconds

    def deliver_for(i: int):
        def deliver(event: Event) -> None:
            counts[i] += event.token is not None
            if event.finish_reason is not None:
                done.release()

        return deliver

    started = time.perf_counter()
    for i, ids in enumerate(prompts):
        sampler = timed(make_sampler(), spent)
        generation = Generation(ids, max_tokens, sampler, frozenset(), deliver_for(i))
        engine.submit(generation)
    for _ in prompts:
        done.acquire()
    wall = time.perf_counter() - started
    return sum(counts) / wall, (spent[0] + engine.masks.seconds - filled) / wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--artifact", type=Path)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=64)
    args = parser.parse_args()
    artifact = verify(args.artifact or _default_artifact())
    codec = TextCodec(artifact)
    model = OnnxCausalLM(artifact, threads=args.threads)
    engine = Engine(model, max_batch=16)  # no prefix cache: every rep prefills the same
    engine.start()
    grammars = grammars_for(artifact, model.vocab)
    greedy = SamplingParams(temperature=0)
    samplers = {
        "text": lambda: Sampler(greedy),
        "json_schema": lambda: grammars.compile(json_schema_grammar(SCHEMA)).sampler(greedy),
    }

    def prompts(variant: int, n: int) -> list[list[int]]:
        texts = prompts_for(variant, n)
        return [codec.encode(codec.render_chat([{"role": "user", "content": t}])) for t in texts]

    results: dict[tuple[str, int], list[tuple[float, float]]] = {}
    for make in samplers.values():  # warm-up
        run(engine, prompts(0, 4), args.max_tokens, make)
    for rep in range(args.reps):
        for n in (1, 16):
            modes = list(samplers.items())
            for mode, make in modes[rep % 2 :] + modes[: rep % 2]:
                result = run(engine, prompts(1 + rep, n), args.max_tokens, make)
                results.setdefault((mode, n), []).append(result)
        print(f"rep {rep + 1}/{args.reps} done", flush=True)
    engine.stop()
    med = statistics.median
    print("\n| clients | text tok/s | json_schema tok/s | cost | sampler share text / json |")
    print("| --- | --- | --- | --- | --- |")
    for n in (1, 16):
        text, json_ = results[("text", n)], results[("json_schema", n)]
        rate, json_rate = med(r[0] for r in text), med(r[0] for r in json_)
        share, json_share = med(r[1] for r in text), med(r[1] for r in json_)
        print(
            f"| {n} | {rate:.1f} | {json_rate:.1f} | {1 - json_rate / rate:+.1%} "
            f"| {share:.1%} / {json_share:.1%} |"
        )


if __name__ == "__main__":
    main()
