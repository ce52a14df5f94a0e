"""SIGTERM: stop accepting, let in-flight streams finish within the grace period, exit 0."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from tests.runtime.conftest import API_KEY, free_port


def test_sigterm_drains_in_flight_streams(tiny_artifact: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "SERVESPEC_ARTIFACT": str(tiny_artifact),
        "SERVESPEC_PORT": str(port),
        "SERVESPEC_HOST": "127.0.0.1",
        "SERVESPEC_API_KEYS": API_KEY,
        "SERVESPEC_SHUTDOWN_GRACE_S": "20",
        "SERVESPEC_THREADS": "1",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "runtime"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url)
        chunks: list[str] = []
        first_chunk = threading.Event()

        def stream() -> None:
            body = {
                "model": "tiny-llama",
                "messages": [{"role": "user", "content": "go"}],
                "max_tokens": 1500,
                "stream": True,
                "temperature": 0,
            }
            headers = {"Authorization": f"Bearer {API_KEY}"}
            with httpx.stream(
                "POST", url + "/v1/chat/completions", json=body, headers=headers, timeout=60
            ) as response:
                for line in response.iter_lines():
                    if line:
                        chunks.append(line)
                        first_chunk.set()

        reader = threading.Thread(target=stream)
        reader.start()
        assert first_chunk.wait(30)
        process.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        try:
            refused = httpx.get(url + "/healthz", timeout=2).status_code
        except httpx.ConnectError:
            refused = None
        assert refused is None  # the listener closed at once
        reader.join(60)
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert chunks[-1] == "data: [DONE]"
    last = json.loads(chunks[-2].removeprefix("data: "))
    assert last["choices"][0]["finish_reason"] == "length"
    assert len(chunks) > 100  # the stream ran to its end after SIGTERM
    logs = process.stdout.read().decode()  # type: ignore[union-attr]
    assert '"message": "Shutting down"' in logs or "Finished server process" in logs


def _wait_ready(url: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError("server not ready")
