"""Run the app under uvicorn with the settings the image uses (``python -m runtime``)."""

from __future__ import annotations

import math
import signal
import types

import uvicorn
from starlette.types import ASGIApp

from runtime import guard, logs
from runtime.app import create_app
from runtime.service import ModelService
from runtime.settings import Settings


class _DrainingServer(uvicorn.Server):
    """Marks the service draining on SIGTERM so /readyz fails while streams finish."""

    def __init__(self, config: uvicorn.Config, service: ModelService) -> None:
        super().__init__(config)
        self.service = service

    def handle_exit(self, sig: int, frame: types.FrameType | None) -> None:
        self.service.drain()
        super().handle_exit(sig, frame)
        if sig == signal.SIGTERM:
            # uvicorn re-raises captured signals after shutting down, which turns a completed
            # drain into "killed by SIGTERM" (exit -15). A drained exit is a clean exit.
            self._captured_signals.remove(sig)


def serve(settings: Settings) -> None:
    logs.configure(settings.log_level)
    app = create_app(settings)
    _DrainingServer(uvicorn_config(app, settings), app.state.service).run()


def uvicorn_config(app: ASGIApp, settings: Settings) -> uvicorn.Config:
    """How the image (and the tests' live servers) run the app."""
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        lifespan="on",
        # Longer than the ALB's idle timeout: a shorter one makes the ALB reuse connections
        # the server already closed (sporadic 502s).
        timeout_keep_alive=settings.keep_alive_s,
        # In-flight streams get this long to finish after SIGTERM; it matches the ALB
        # deregistration delay the Terraform sets.
        timeout_graceful_shutdown=math.ceil(settings.shutdown_grace_s),
        http=guard.protocol(settings.header_timeout_s, settings.max_connections),
    )
