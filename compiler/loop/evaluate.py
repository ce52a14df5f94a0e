"""`servespec eval`: run a suite against a model and gate a candidate on its score.

A target is a running endpoint (URL), an artifact directory or a pushed artifact
(`s3://bucket/models/<name>/<version>/`, downloaded first); artifacts are served here by the
real runtime on a loopback port, so both go through the same OpenAI API. Answers are
greedy (temperature 0) so a score is reproducible. The gate refuses a candidate whose score
is below ``min_score`` or more than ``max_regression`` below the baseline's.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import socket
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compiler.loop.suite import Case, Suite, score_case


class EvalError(RuntimeError):
    """The target could not be served or did not answer."""


@dataclass(frozen=True)
class Endpoint:
    url: str
    key: str

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.url.rstrip("/") + path,
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=300) as response:
                return json.loads(response.read())
        except (urllib.error.URLError, TimeoutError, ValueError) as exc:
            raise EvalError(f"{self.url}{path}: {exc}") from None

    def model(self) -> str:
        models = self.call("GET", "/v1/models")["data"]
        if not models:
            raise EvalError(f"{self.url}: serves no model")
        return str(models[0]["id"])

    def answer(self, model: str, case: Case) -> str:
        body = {
            "model": model,
            "messages": case.chat(),
            "max_tokens": case.max_tokens,
            "temperature": 0,
        }
        reply = self.call("POST", "/v1/chat/completions", body)
        return str(reply["choices"][0]["message"]["content"] or "")


@contextlib.contextmanager
def open_target(target: str, api_key: str | None) -> Iterator[Endpoint]:
    if target.startswith(("http://", "https://")):
        yield Endpoint(target, api_key or "")
        return
    if target.startswith("s3://"):  # a pushed artifact (the deploy's baseline)
        with tempfile.TemporaryDirectory() as tmp, _served(_download(target, Path(tmp))) as ep:
            yield ep
        return
    if not Path(target, "manifest.json").is_file():
        raise EvalError(f"{target}: neither a URL nor an artifact directory (no manifest.json)")
    with _served(Path(target)) as endpoint:
        yield endpoint


def _download(uri: str, dest: Path) -> Path:
    """Fetch only the files the artifact's manifest lists (the runtime's own download)."""
    from runtime.artifact import ArtifactError, download_s3

    try:
        return download_s3(uri, dest)
    except ArtifactError as exc:
        raise EvalError(str(exc)) from None


@contextlib.contextmanager
def _served(artifact: Path) -> Iterator[Endpoint]:
    import uvicorn

    from runtime.app import create_app
    from runtime.capture import CaptureSettings
    from runtime.settings import Settings
    from runtime.variants import VariantSettings

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    key = secrets.token_hex(16)
    settings = Settings(artifact=str(artifact), host="127.0.0.1", port=port, api_keys=(key,))
    # The runtime writes EMF metric lines to stdout; the report owns stdout here.
    with contextlib.redirect_stdout(sys.stderr):
        app = create_app(settings, VariantSettings(), CaptureSettings())
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        _wait_ready(app.state.service)
        yield Endpoint(f"http://127.0.0.1:{port}", key)
    finally:
        server.should_exit = True
        thread.join(60)


def _wait_ready(service: Any) -> None:
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if service.status == "ready":
            return
        if service.status == "failed":
            raise EvalError(service.reason)
        time.sleep(0.1)
    raise EvalError("the model did not load within 10 minutes")


def run(suite: Suite, endpoint: Endpoint, references: dict[str, str] | None) -> dict[str, Any]:
    model = endpoint.model()
    cases = [
        score_case(case, endpoint.answer(model, case), (references or {}).get(case.id))
        for case in suite.cases
    ]
    return {
        "suite": {"name": suite.name, "version": suite.version, "sha256": suite.sha256},
        "model": model,
        "score": round(sum(c["score"] for c in cases) / len(cases), 4),
        "cases": cases,
    }


def gate(
    score: float, baseline: float | None, max_regression: float, min_score: float
) -> tuple[bool, str]:
    if score < min_score:
        return False, f"score {score:.3f} is below the minimum {min_score:.3f}"
    if baseline is not None and score < baseline - max_regression:
        return False, (
            f"score {score:.3f} regresses more than {max_regression:.3f} "
            f"below the baseline's {baseline:.3f}"
        )
    against = f" (baseline {baseline:.3f})" if baseline is not None else ""
    return True, f"score {score:.3f}{against} passes"
