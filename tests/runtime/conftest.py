"""Fixtures: cached artifacts and a real uvicorn server on a free port, in a thread."""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
import uvicorn
from starlette.applications import Starlette

from runtime.app import create_app
from runtime.server import uvicorn_config
from runtime.service import ModelService
from runtime.settings import Settings
from tests.conftest_artifact import model_artifact, model_cache_dir
from tests.runtime import builders

# The real model comes from the model pipeline's shared fixtures (built once, cached).
__all__ = ["model_artifact", "model_cache_dir"]

API_KEY = "test-key-0123456789"
# Chat prompts of different lengths for the concurrency tests.
PROMPTS = [
    "What is the capital of France?",
    "Write a haiku about the sea.",
    "Explain gravity in one long sentence please, with details.",
    "Hi",
    "List three colors.",
    "What is 2 + 2?",
]


@pytest.fixture(scope="session")
def tiny_artifact() -> Path:
    return builders.tiny_artifact()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclasses.dataclass
class LiveServer:
    url: str
    app: Starlette
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def service(self) -> ModelService:
        return self.app.state.service  # type: ignore[no-any-return]

    def client(self, **kwargs: object) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.url + "/v1", api_key=API_KEY, max_retries=0, **kwargs)  # type: ignore[arg-type]

    def http(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=60
        )

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)


def settings_for(artifact: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "artifact": str(artifact),
        "host": "127.0.0.1",
        "port": free_port(),
        "api_keys": (API_KEY,),
        "threads": 2,
        "shutdown_grace_s": 5.0,
        "metrics_port": 0,  # /metrics on the API port: tests read it with their key
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def start_server(settings: Settings, *, wait_ready: bool = True) -> LiveServer:
    app = create_app(settings)
    config = uvicorn_config(app, settings)
    config.timeout_graceful_shutdown = settings.shutdown_grace_s  # type: ignore[assignment]
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    live = LiveServer(f"http://{settings.host}:{settings.port}", app, server, thread)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            status = httpx.get(live.url + "/readyz", timeout=5).status_code
            if status == 200 or (not wait_ready and server.started):
                return live
            if live.service.status == "failed":
                return live
        time.sleep(0.1)
    live.stop()
    raise TimeoutError("server did not become ready")


@contextlib.contextmanager
def running(settings: Settings, *, wait_ready: bool = True) -> Iterator[LiveServer]:
    live = start_server(settings, wait_ready=wait_ready)
    try:
        yield live
    finally:
        live.stop()
