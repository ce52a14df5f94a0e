"""Operational endpoints: liveness, readiness, Prometheus metrics, models, feedback."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from runtime.auth import ANONYMOUS, KEY_ID
from runtime.completions import parse_body
from runtime.errors import APIError
from runtime.experiment import Experiment
from runtime.protocol import FeedbackRequest
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
    return Response(service.metrics.exposition(), media_type="text/plain; version=0.0.4")


async def models(request: Request) -> Response:
    service: ModelService = request.app.state.service
    data = []
    if service.artifact is not None:
        data.append(
            {
                "id": service.model_name,
                "object": "model",
                "created": service.started,
                "owned_by": "servespec",
            }
        )
    return JSONResponse({"object": "list", "data": data})


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
