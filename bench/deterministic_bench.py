"""Deterministic mode's price and promise: batch-invariant vs default int4 kernels.

    .venv/bin/python bench/deterministic_bench.py DEFAULT_ARTIFACT INVARIANT_ARTIFACT

For each artifact: 16 greedy chat answers alone (one client, tokens/s), then the same 16 at
once (aggregate tokens/s), and how many concurrent answers differ from their solo answer.
Not a test: timings depend on the machine (and on what else runs on it).
"""

from __future__ import annotations

import concurrent.futures
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.runtime.conftest import LiveServer, running, settings_for  # noqa: E402

TOPICS = ["a dragon", "the sea", "a lighthouse", "bread", "a violin", "rain", "a fox", "tea"]
PROMPTS = [f"Tell me a story about {t}." for t in TOPICS] + [
    f"Explain how {t} works, step by step." for t in TOPICS
]
TOKENS = 128


def ask(server: LiveServer, prompt: str) -> tuple[str, int]:
    reply = server.client().chat.completions.create(
        model=server.service.model_name,
        messages=[{"role": "user", "content": prompt}],
        temperature=0,
        max_tokens=TOKENS,
    )
    assert reply.usage is not None
    return str(reply.choices[0].message.content), reply.usage.completion_tokens


def measure(artifact: Path) -> dict[str, float]:
    settings = settings_for(artifact, prefix_cache_mb=0, max_concurrent_requests=16)
    with running(settings) as server:
        ask(server, "warm up")
        started = time.perf_counter()
        solo = [ask(server, p) for p in PROMPTS]
        solo_s = time.perf_counter() - started
        started = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(len(PROMPTS)) as pool:
            together = list(pool.map(lambda p: ask(server, p), PROMPTS))
        together_s = time.perf_counter() - started
    return {
        "solo_tok_s": sum(n for _, n in solo) / solo_s,
        "concurrent_tok_s": sum(n for _, n in together) / together_s,
        "differ": sum(a != b for (a, _), (b, _) in zip(solo, together, strict=True)),
    }


def main() -> None:
    for name, path in zip(("default", "invariant"), sys.argv[1:3], strict=True):
        print(name, measure(Path(path)), flush=True)


if __name__ == "__main__":
    main()
