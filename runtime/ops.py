"""Operational endpoints: liveness, readiness, Prometheus metrics, models, feedback."""

from __future__ import annotations

import asyncio
import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from runtime.auth import ANONYMOUS, KEY_ID
from runtime.errors import APIError
from runtime.experiment import Experiment
from runtime.prepare import check_model, parse_body, ready_service
from runtime.protocol import DetokenizeRequest, FeedbackRequest, TokenizeRequest
from runtime.service import ModelService

feedback_log = logging.getLogger("servespec.feedback")


async def healthz(request: Request) -> Response:
    # Alive means the process answers; loading or a rejected artifact is /readyz's business.
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    service: ModelService = request.app.state.service
    body = {"status": service.status, "reason": service.reason, "model": service.model_name}
    return JSONResponse(body, status_code=200 if service.ready else 503)


async def metrics(request: Request) -> Response:
    service: ModelService = request.app.state.service
    if service.settings.metrics_port:
        raise APIError(
            404,
            "Metrics are served on the task's metrics port, not to API keys.",
            code="not_found",
        )
    return Response(service.metrics.exposition(), media_type="text/plain; version=0.0.4")


async def models(request: Request) -> Response:
    service: ModelService = request.app.state.service
    data = [_card(service)] if service.artifact is not None else []
    return JSONResponse({"object": "list", "data": data})


async def model(request: Request) -> Response:
    """``GET /v1/models/{id}`` (the SDK's ``models.retrieve``)."""
    service: ModelService = request.app.state.service
    name = request.path_params["model"]
    if service.artifact is None or name != service.model_name:
        check_model(service, name)  # raises the 404 in OpenAI's shape
    return JSONResponse(_card(service))


def _card(service: ModelService) -> dict[str, object]:
    return {
        "id": service.model_name,
        "object": "model",
        "created": service.started,
        "owned_by": "servespec",
    }


async def tokenize(request: Request) -> Response:
    service = ready_service(request)
    body = await parse_body(request, TokenizeRequest)
    check_model(service, body.model)
    assert service.codec is not None and service.artifact is not None
    if (body.prompt is None) == (body.messages is None):
        raise APIError(
            400, "Send exactly one of prompt and messages.", param="prompt", code="invalid_value"
        )
    text = body.prompt
    if body.messages is not None:
        messages = [{"role": m.role, "content": m.text()} for m in body.messages]
        try:
            text = await asyncio.to_thread(service.codec.render_chat, messages)
        except ValueError as exc:
            raise APIError(400, str(exc), param="messages", code="invalid_value") from None
    ids = await asyncio.to_thread(service.codec.encode, text or "")
    context = service.artifact.context_tokens
    return JSONResponse({"tokens": ids, "count": len(ids), "max_model_len": context})


async def detokenize(request: Request) -> Response:
    service = ready_service(request)
    body = await parse_body(request, DetokenizeRequest)
    check_model(service, body.model)
    assert service.codec is not None
    if any(token >= service.codec.vocab_size for token in body.tokens):
        raise APIError(
            400,
            f"tokens: ids must be below the vocabulary size {service.codec.vocab_size}.",
            param="tokens",
            code="invalid_value",
        )
    text = await asyncio.to_thread(service.codec.decode, body.tokens)
    return JSONResponse({"prompt": text})


async def feedback(request: Request) -> Response:
    service: ModelService = request.app.state.service
    body = await parse_body(request, FeedbackRequest)
    experiment: Experiment = request.app.state.experiment
    key_id = request.scope.get(KEY_ID, ANONYMOUS)
    if not experiment.feedback(body.response_id, body.rating, body.comment, key_id):
        raise APIError(
            404,
            f"No response '{body.response_id}' was issued here (or it is too old to rate).",
            param="response_id",
            code="response_not_found",
        )
    service.metrics.feedback.labels(str(body.rating)).inc()
    feedback_log.info(
        "feedback",
        extra={
            "event": "feedback",
            "response_id": body.response_id,
            "rating": body.rating,
            "comment": body.comment,
            "key_id": key_id,
            "model": service.model_name,
        },
    )
    return JSONResponse({"status": "recorded", "response_id": body.response_id})
