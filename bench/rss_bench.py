"""Resident memory of a serving process: idle, at the peak of a burst, and after it.

    .venv/bin/python bench/rss_bench.py [--artifact DIR] [--rounds 3] [--clients 16] \
        [--max-tokens 384] [--prompt-repeat 6] [--compare-root CHECKOUT] \
        [--llama-server PATH]

Starts our runtime (and, with ``--compare-root``, the runtime of another checkout, e.g.
``/work/main``, side by side; with ``--llama-server``, llama.cpp's server ``-np 16``), then
for each round sends a burst of concurrent streamed chat requests with long prompts and
long answers, sampling each process's RSS every 50 ms. It prints RSS idle (ready, after
one small warm-up request), the peak during each burst and RSS one second after each burst
ends. A server whose memory follows its live sequences returns close to idle after every
burst; one that keeps its high-water mark does not. Not a test: numbers depend on the
allocator and the machine.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from runtime_bench import (  # noqa: E402
    _default_artifact,
    _default_gguf,
    prompts_for,
    runtime_env,
)
from server_bench import Server, free_port, llama_server  # noqa: E402


def runtime_server(name: str, root: Path, artifact: Path, threads: int) -> Server:
    """The runtime of the checkout at ``root`` (its own code, this interpreter)."""
    port = free_port()
    env = {**runtime_env(artifact, port, threads, timeout_s=900), "PYTHONPATH": str(root)}
    return Server(name, [sys.executable, "-m", "runtime"], env, port, cwd=root)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def burst(server: Server, prompts: list[str], max_tokens: int) -> tuple[float, float]:
    """Serve ``prompts`` at once; the peak RSS meanwhile, and RSS a second after."""
    peak, done = [0.0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_mib(server.process.pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        server.serve(prompts, max_tokens, False)
    finally:
        done.set()
        sampler.join()
    time.sleep(1.0)
    return peak[0], rss_mib(server.process.pid)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--artifact", type=Path, help="ours (default: the cached default build)")
    parser.add_argument("--compare-root", type=Path, help="another checkout's runtime beside")
    parser.add_argument("--llama-server", type=Path, help="llama-server binary, also measured")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=384)
    parser.add_argument("--prompt-repeat", type=int, default=6, help="longer prompts: more KV")
    args = parser.parse_args()
    artifact = args.artifact or _default_artifact()
    servers = [runtime_server("servespec runtime", ROOT, artifact, args.threads)]
    if args.compare_root:
        root = args.compare_root.resolve()
        servers.append(runtime_server(f"runtime at {root}", root, artifact, args.threads))
    if args.llama_server:
        servers.append(llama_server(args.llama_server, _default_gguf(), args.threads))
    rows: dict[str, list[str]] = {}
    try:
        for server in servers:
            server.serve(prompts_for(0, 1), 8, False)
            time.sleep(1.0)
            rows[server.name] = [f"{rss_mib(server.process.pid):.0f}"]
        for round_ in range(args.rounds):
            texts = prompts_for(1 + round_, args.clients)
            prompts = [" ".join([text] * args.prompt_repeat) for text in texts]
            for server in servers if round_ % 2 == 0 else servers[::-1]:
                peak, after = burst(server, prompts, args.max_tokens)
                rows[server.name].append(f"{peak:.0f} / {after:.0f}")
            print(f"round {round_ + 1}/{args.rounds} done", flush=True)
    finally:
        for server in servers:
            server.close()
    rounds = " | ".join(f"burst {i + 1} peak / after" for i in range(args.rounds))
    print(f"\n| server | idle | {rounds} |  (RSS MiB)")
    print("| --- | --- |" + " --- |" * args.rounds)
    for name, cells in rows.items():
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
