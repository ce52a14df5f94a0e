"""Errors in OpenAI's shape: ``{"error": {"message", "type", "param", "code"}}``."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from runtime.sendwatch import WatchedSend

log = logging.getLogger("servespec.errors")

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    408: "timeout_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    429: "rate_limit_error",
    500: "server_error",
    503: "service_unavailable",
    504: "timeout_error",
}


class APIError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.param = status, message, code, param
        self.headers = dict(headers or {})


def error_body(
    status: int, message: str, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    kind = _TYPES.get(status, "invalid_request_error" if status < 500 else "server_error")
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def error_response(exc: APIError) -> JSONResponse:
    body = error_body(exc.status, exc.message, exc.code, exc.param)
    return JSONResponse(body, status_code=exc.status, headers=exc.headers)


def from_validation(exc: ValidationError) -> APIError:
    first = exc.errors(include_url=False)[0]
    param = ".".join(str(part) for part in first["loc"]) or None
    return APIError(
        400,
        f"{param}: {first['msg']}" if param else first["msg"],
        param=param,
        code="invalid_value",
    )


async def handle_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, APIError)
    return error_response(exc)


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
    return error_response(
        APIError(exc.status_code, str(exc.detail), code=code, headers=exc.headers)
    )


class ContainErrors:
    """An unexpected exception becomes one logged 500 and goes no further.

    Starlette's outermost layer re-raises after answering 500, and uvicorn closes the
    keep-alive connection when an exception reaches it, failing the client's next request
    on that connection; this layer sits just inside and stops it there. If the response
    had already started, the connection cannot be reused anyway: uvicorn closes it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        watched = WatchedSend(send)
        try:
            await self.app(scope, receive, watched)
        except Exception:
            log.exception("unhandled error", extra={"path": scope.get("path")})
            if not watched.started:
                response = error_response(
                    APIError(500, "internal server error", code="internal_error")
                )
                await response(scope, receive, send)
