"""Our runtime against llama.cpp's own batching server, with and without structured output.

    .venv/bin/python bench/server_bench.py --llama-server PATH [--artifact DIR] [--reps 3]

Both are real HTTP servers on the same 2 threads, driven by the same client (one asyncio
event loop speaking plain HTTP/1.1, streamed SSE) with the same greedy chat prompts:
llama-server runs with ``-np 16`` and its defaults otherwise. For 1, 4 and 16 concurrent
clients, plain and with ``response_format`` json_schema, it reports aggregate tokens/s,
TTFT p50/p95 (from the moment all clients arrive), batch-1 decode tokens/s, and RSS (peak,
and after the runs). Servers are warmed up, interleaved within each repetition, and every
number is the median over repetitions. Not a test: timings depend on the machine (and on
whoever else uses it).
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
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from runtime_bench import (  # noqa: E402
    _default_artifact,
    _default_gguf,
    _vm_hwm,
    percentile,
    prompts_for,
    runtime_env,
)

KEY = "bench-key"
CLIENTS = (1, 4, 16)
SCHEMA = {
    "type": "object",
    # minLength keeps a greedy story going to max_tokens, as a free answer does: both modes
    # then decode the same number of tokens.
    "properties": {"title": {"type": "string"}, "story": {"type": "string", "minLength": 2000}},
    "required": ["title", "story"],
    "additionalProperties": False,
}
FORMAT = {"type": "json_schema", "json_schema": {"name": "story", "schema": SCHEMA, "strict": True}}


class Server:
    """One OpenAI-compatible server process on a free port."""

    def __init__(
        self, name: str, argv: list[str], env: dict[str, str], port: int, cwd: Path = ROOT
    ) -> None:
        self.name, self.port = name, port
        self.process = subprocess.Popen(
            argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                headers = {"Authorization": f"Bearer {KEY}"}
                models = httpx.get(url + "/v1/models", headers=headers, timeout=5)
                if models.status_code == 200 and self._ready(url):
                    self.model = models.json()["data"][0]["id"]
                    return
            if self.process.poll() is not None:
                raise RuntimeError(f"{name} exited with {self.process.returncode}")
            time.sleep(0.5)
        raise TimeoutError(f"{name} did not become ready")

    def _ready(self, url: str) -> bool:
        for path in ("/readyz", "/health"):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + path, timeout=5).status_code == 200:
                    return True
        return False

    async def one(self, prompt: str, arrived: float, max_tokens: int, structured: bool) -> dict:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": "user", "content": prompt}],
            "max_tokens": max_tokens,
            "temperature": 0,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if structured:
            body["response_format"] = FORMAT
        stamps: list[float] = []
        text, tokens = "", 0
        async for event in self._events(body):
            if "error" in event:
                raise RuntimeError(f"{self.name} answered an error: {event['error']}")
            if event.get("usage"):
                tokens = event["usage"]["completion_tokens"]
            for choice in event.get("choices") or []:
                if (choice.get("delta") or {}).get("content"):
                    stamps.append(time.perf_counter())
                    text += choice["delta"]["content"]
        if structured:
            _check_prefix(text)
        tokens = tokens or len(stamps)
        return {
            "ttft": stamps[0] - arrived,
            "tokens": tokens,
            "end": stamps[-1],
            "decode_rate": (tokens - 1) / max(stamps[-1] - stamps[0], 1e-9),
        }

    async def _events(self, body: dict) -> AsyncIterator[dict]:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        payload = json.dumps(body).encode()
        head = (
            f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {KEY}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
        )
        writer.write(head.encode() + payload)
        try:
            status = await reader.readline()
            if b" 200 " not in status:
                raise RuntimeError(f"{self.name} answered {status!r}")
            chunked = False
            while (line := await reader.readline()) not in (b"\r\n", b""):
                chunked |= line.lower().startswith(b"transfer-encoding: chunked")
            buffer = b""
            async for data in _body(reader, chunked):
                buffer += data
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    if line.startswith(b"data: {"):
                        yield json.loads(line[6:])
        finally:
            writer.close()

    def serve(self, prompts: list[str], max_tokens: int, structured: bool) -> list[dict]:
        async def clients() -> list[dict]:
            arrived = time.perf_counter()
            return await asyncio.gather(
                *(self.one(p, arrived, max_tokens, structured) for p in prompts)
            )

        return asyncio.run(clients())

    def rss_mb(self) -> tuple[float, float]:
        status = Path(f"/proc/{self.process.pid}/status").read_text().splitlines()
        current = next(int(s.split()[1]) for s in status if s.startswith("VmRSS:")) / 1024
        return _vm_hwm(self.process.pid), current

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(30)


async def _body(reader: asyncio.StreamReader, chunked: bool) -> AsyncIterator[bytes]:
    if not chunked:
        while data := await reader.read(65536):
            yield data
        return
    while size := int((await reader.readline()).strip() or b"0", 16):
        yield (await reader.readexactly(size + 2))[:-2]


def _check_prefix(text: str) -> None:
    """A structured answer cut by max_tokens is a JSON prefix; it must at least start so."""
    if not "".join(text.split()).startswith('{"title"'):  # llama-server indents its JSON
        raise RuntimeError(f"structured answer does not follow the schema: {text[:80]!r}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ours(artifact: Path, threads: int) -> Server:
    port = free_port()
    env = runtime_env(artifact, port, threads)
    return Server("servespec runtime", [sys.executable, "-m", "runtime"], env, port)


def llama_server(binary: Path, gguf: Path, threads: int) -> Server:
    port = free_port()
    argv = [str(binary), "-m", str(gguf), "-t", str(threads), "-tb", str(threads)]
    argv += ["-np", "16", "-c", "16384", "--port", str(port), "--api-key", KEY]
    env = {**os.environ, "LD_LIBRARY_PATH": str(binary.parent)}
    return Server("llama-server -np 16", argv, env, port)


def scenario(server: Server, prompts: list[str], max_tokens: int, structured: bool) -> dict:
    started = time.perf_counter()
    results = server.serve(prompts, max_tokens, structured)
    wall = max(r["end"] for r in results) - started
    return {
        "aggregate": sum(r["tokens"] for r in results) / wall,
        "ttfts": [r["ttft"] for r in results],
        "decode_rate": statistics.median(r["decode_rate"] for r in results),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--llama-server", type=Path, required=True, help="llama-server binary")
    parser.add_argument("--artifact", type=Path, help="ours (default: the cached default build)")
    parser.add_argument("--gguf", type=Path, help="llama-server's model (default: embedded)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--compare-root", type=Path, help="another checkout's runtime too")
    args = parser.parse_args()
    artifact = args.artifact or _default_artifact()
    servers = [
        ours(artifact, args.threads),
        llama_server(args.llama_server, args.gguf or _default_gguf(), args.threads),
    ]
    if args.compare_root:
        from rss_bench import runtime_server

        root = args.compare_root.resolve()
        servers.append(runtime_server(f"runtime at {root}", root, artifact, args.threads))
    modes = (False, True)
    runs: dict[tuple[str, bool, int], list[dict]] = {}
    try:
        for server in servers:  # warm-up: the first runs after load are slow
            for structured in modes:
                server.serve(prompts_for(0, 4), args.max_tokens, structured)
        for rep in range(args.reps):
            # Servers alternate scenario by scenario: a burst of load from elsewhere on a
            # shared machine then hits both rather than one server's whole repetition.
            for index, (structured, n) in enumerate((m, n) for m in modes for n in CLIENTS):
                prompts = prompts_for(1 + rep * 6 + index, n)
                order = servers if (rep + index) % 2 == 0 else servers[::-1]
                for server in order:
                    result = scenario(server, prompts, args.max_tokens, structured)
                    runs.setdefault((server.name, structured, n), []).append(result)
            print(f"rep {rep + 1}/{args.reps} done", flush=True)
        rss = {server.name: server.rss_mb() for server in servers}
    finally:
        for server in servers:
            server.close()
    report([s.name for s in servers], runs, rss)


def report(
    names: list[str], runs: dict[tuple[str, bool, int], list[dict]], rss: dict[str, tuple]
) -> None:
    med = statistics.median

    def agg(name: str, structured: bool, n: int) -> float:
        return med(r["aggregate"] for r in runs[(name, structured, n)])

    columns = "agg tok/s | TTFT p50 ms | TTFT p95 ms | decode/client tok/s"
    print(f"\n| server | output | clients | {columns} |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name in names:
        for structured in (False, True):
            for n in CLIENTS:
                got = runs[(name, structured, n)]
                p50 = med(percentile(r["ttfts"], 0.50) for r in got) * 1000
                p95 = med(percentile(r["ttfts"], 0.95) for r in got) * 1000
                decode = med(r["decode_rate"] for r in got)
                mode = "json_schema" if structured else "text"
                print(
                    f"| {name} | {mode} | {n} | {agg(name, structured, n):.1f} | {p50:.0f} "
                    f"| {p95:.0f} | {decode:.1f} |"
                )
    peer = names[1]
    print("\n| ratio to llama-server | output | 1 client | 4 clients | 16 clients |")
    print("| --- | --- | --- | --- | --- |")
    for name in [names[0], *names[2:]]:
        for structured in (False, True):
            ratios = [agg(name, structured, n) / agg(peer, structured, n) for n in CLIENTS]
            mode = "json_schema" if structured else "text"
            print(f"| {name} | {mode} | " + " | ".join(f"{r:.2f}x" for r in ratios) + " |")
    print("\nstructured-output cost (1 - json_schema/text aggregate):")
    for name in names:
        costs = [1 - agg(name, True, n) / agg(name, False, n) for n in CLIENTS]
        print(
            f"  {name}: "
            + ", ".join(f"{n} cl {c:+.1%}" for n, c in zip(CLIENTS, costs, strict=True))
        )
    for name, (peak, now) in rss.items():
        print(f"RSS {name}: peak {peak:.0f} MiB, after the runs {now:.0f} MiB")


if __name__ == "__main__":
    main()
