"""``create_app(settings)``: the Starlette application, its middleware and its lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from wsgiref.simple_server import WSGIServer

from prometheus_client import start_http_server
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Route

from runtime import completions, openapi, ops
from runtime.auth import AuthMiddleware, KeyStore, start_keys
from runtime.auththrottle import AuthThrottleMiddleware
from runtime.bodylimit import BodyLimitMiddleware
from runtime.capture import CaptureSettings
from runtime.errors import APIError, ContainErrors, handle_api_error, handle_http_exception
from runtime.experiment import Experiment
from runtime.logs import RequestContextMiddleware
from runtime.metrics import CountResponses, Metrics
from runtime.ratelimit import RateLimitMiddleware, TokenBucket
from runtime.service import ModelService
from runtime.settings import Settings
from runtime.variants import VariantMiddleware, VariantSettings

log = logging.getLogger("servespec.app")
PUBLIC_PATHS = frozenset({"/healthz", "/readyz"})


def create_app(
    settings: Settings,
    variant: VariantSettings | None = None,
    capture: CaptureSettings | None = None,
) -> Starlette:
    """Wire the parts one app owns (keys, metrics, model service, experiment) into Starlette.

    Each app gets its own instances so two apps in one process (tests) share nothing.
    """
    keys = start_keys(settings)
    metrics = Metrics(settings.metrics_namespace, settings.served_model_name)
    service = ModelService(settings, metrics)
    variant = variant or VariantSettings.from_env()
    experiment = Experiment(variant, capture or CaptureSettings.from_env(), metrics)
    if keys is None:
        log.warning("authentication is disabled (SERVESPEC_AUTH=none); never do this in production")
    app = Starlette(
        routes=_routes(),
        middleware=_middleware(settings, metrics, keys, variant),
        exception_handlers={
            APIError: handle_api_error,
            HTTPException: handle_http_exception,
        },
        lifespan=_lifespan(settings, metrics, service, experiment),
    )
    app.state.service = service
    app.state.experiment = experiment
    app.state.openapi = openapi.build_schema("servespec", "1")
    return app


def _lifespan(
    settings: Settings, metrics: Metrics, service: ModelService, experiment: Experiment
) -> Callable[[Starlette], contextlib.AbstractAsyncContextManager[None]]:
    """Start what serving needs and stop it in the order that loses no request or record.

    The model loads in the background so /healthz answers at once and /readyz says why we
    wait; on shutdown admission drains first, then the model and the capture recorder close.
    """

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        loader = asyncio.create_task(asyncio.to_thread(_load, service))
        experiment.recorder.start()
        exporter = _metrics_exporter(settings, metrics)
        reporter = asyncio.create_task(_report_load(service, metrics, settings.load_report_s))
        try:
            yield
        finally:
            reporter.cancel()
            service.drain()
            if exporter is not None:
                exporter.shutdown()
                exporter.server_close()
            await loader
            await asyncio.to_thread(service.close)
            await asyncio.to_thread(experiment.recorder.close)

    return lifespan


async def _report_load(service: ModelService, metrics: Metrics, every_s: float) -> None:
    """Write the scaling signal every ``every_s`` seconds, from start to shutdown: before
    the model loads and while idle it is 0, so CloudWatch always has the data points that
    target tracking needs to scale in."""
    while True:
        engine = service.engine
        metrics.emit_load(engine.waiting if engine else 0)
        await asyncio.sleep(every_s)


def _routes() -> list[Route]:
    """The API surface: OpenAI's routes, the vLLM-style tokenizer pair and the operator's."""
    return [
        Route("/v1/chat/completions", completions.chat_completions, methods=["POST"]),
        Route("/v1/completions", completions.completions, methods=["POST"]),
        Route("/v1/models", ops.models, methods=["GET"]),
        Route("/v1/models/{model:path}", ops.model, methods=["GET"]),
        Route("/tokenize", ops.tokenize, methods=["POST"]),
        Route("/detokenize", ops.detokenize, methods=["POST"]),
        Route("/v1/feedback", ops.feedback, methods=["POST"]),
        Route("/healthz", ops.healthz, methods=["GET"]),
        Route("/readyz", ops.readyz, methods=["GET"]),
        Route("/metrics", ops.metrics, methods=["GET"]),
        Route("/openapi.json", openapi.openapi_json, methods=["GET"]),
        Route("/docs", openapi.docs, methods=["GET"]),
    ]


def _middleware(
    settings: Settings, metrics: Metrics, keys: KeyStore | None, variant: VariantSettings
) -> list[Middleware]:
    """The middleware stack, outermost first; the order is the security contract.

    Errors are contained and every response counted before anything can fail; failed-auth
    throttling sits in front of auth so guessing keys is slow; variants and rate limits
    apply only to authenticated callers; the body limit guards the handlers' parsing.
    """
    return [
        Middleware(ContainErrors),
        Middleware(CountResponses, metrics=metrics),
        Middleware(RequestContextMiddleware),
        Middleware(
            AuthThrottleMiddleware,
            failures_per_minute=settings.failed_auth_per_minute,
            public=PUBLIC_PATHS,
        ),
        Middleware(AuthMiddleware, keys=keys, public=PUBLIC_PATHS),
        # After auth: variant names are for callers, not for anyone probing the API.
        Middleware(VariantMiddleware, variant=variant),
        Middleware(RateLimitMiddleware, bucket=TokenBucket(settings.rate_limit_per_key_rpm)),
        Middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes),
    ]


def _metrics_exporter(settings: Settings, metrics: Metrics) -> WSGIServer | None:
    """Per-key usage is for operators: served on its own port, never on the one keys reach.

    A port already taken (a second local server) costs the metrics, not the server.
    """
    if not settings.metrics_port:
        return None
    try:
        server, _ = start_http_server(
            settings.metrics_port, settings.host, registry=metrics.registry
        )
    except OSError as exc:
        log.error("metrics not served: port %d: %s", settings.metrics_port, exc)
        return None
    return server


def _load(service: ModelService) -> None:
    try:
        service.load()
    except Exception as exc:  # any failure must leave the server alive but not ready
        service.status, service.reason = "failed", f"model failed to load: {exc}"
        log.exception("model failed to load; not serving")
