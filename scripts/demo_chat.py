"""Serve an artifact on a free local port and ask it one question with the OpenAI client.

The last step of the README's main command: proof that the artifact the pipeline built
answers through the same API the image serves.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from openai import OpenAI

QUESTION = "What is the capital of France?"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, server: subprocess.Popen[bytes], timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"the server exited early with code {server.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    sys.exit("the server did not become ready in time")


def main(artifact: Path) -> None:
    port, key = free_port(), secrets.token_urlsafe(24)
    env = {**os.environ, "SERVESPEC_API_KEYS": key}
    servespec = Path(sys.executable).with_name("servespec")
    command = [str(servespec), "serve", str(artifact), "--host", "127.0.0.1", "--port", str(port)]
    log_path = artifact.parent / "demo-server.log"
    with log_path.open("wb") as log:  # the server's JSON logs, kept out of the answer's way
        server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ready(url, server)
        client = OpenAI(base_url=f"{url}/v1", api_key=key)
        model = client.models.list().data[0].id
        reply = client.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": QUESTION}],
            max_tokens=32,
            temperature=0,
        )
        print(f"Q: {QUESTION}\nA: {reply.choices[0].message.content}")
        print(f"({model}, {reply.usage.completion_tokens} tokens; server log: {log_path})")
    finally:
        server.terminate()
        server.wait(timeout=60)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
