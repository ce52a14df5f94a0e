"""``/openapi.json`` built from the pydantic models, and a self-contained docs page."""

from __future__ import annotations

import html
import json
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from runtime import protocol

_ERRORS = {
    "400": "Invalid request (bad parameters, context length exceeded).",
    "401": "Missing or invalid API key.",
    "404": "Unknown model.",
    "413": "Request body too large.",
    "429": "Rate limit or capacity reached; see Retry-After.",
    "503": "Not ready or shutting down; see Retry-After.",
}


def build_schema(title: str, version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document, generated from the same pydantic models that validate
    requests, so the published contract cannot drift from what the server accepts."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": "OpenAI-compatible API served by servespec.",
        },
        "paths": _paths(),
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }


def _schemas() -> dict[str, Any]:
    """Every request and response model's JSON schema, their nested models hoisted to
    components and sorted, so the document is deterministic."""
    models: list[type[BaseModel]] = [
        protocol.ChatCompletionRequest,
        protocol.CompletionRequest,
        protocol.FeedbackRequest,
        protocol.ChatCompletion,
        protocol.Completion,
        protocol.ModelList,
        protocol.ModelCard,
        protocol.TokenizeRequest,
        protocol.TokenizeResponse,
        protocol.DetokenizeRequest,
        protocol.DetokenizeResponse,
        protocol.ErrorBody,
        protocol.FeedbackReceipt,
    ]
    components: dict[str, Any] = {}
    for model in models:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(schema.pop("$defs", {}))
        components[model.__name__] = schema
    return dict(sorted(components.items()))


def _paths() -> dict[str, Any]:
    """Each route's operation: the OpenAI routes stream where OpenAI's do; the probes are
    public (no security), everything else needs a key."""
    return {
        "/v1/chat/completions": _post(
            "Create a chat completion", "ChatCompletionRequest", "ChatCompletion", stream=True
        ),
        "/v1/completions": _post(
            "Create a text completion", "CompletionRequest", "Completion", stream=True
        ),
        "/v1/feedback": _post("Rate a response", "FeedbackRequest", "FeedbackReceipt"),
        "/v1/models": {
            "get": {
                "summary": "List models",
                "operationId": "listModels",
                "responses": {"200": _json("ModelList"), **_error_responses()},
            }
        },
        "/v1/models/{model}": {
            "get": {
                "summary": "Retrieve a model",
                "operationId": "retrieveModel",
                "parameters": [
                    {"name": "model", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {"200": _json("ModelCard"), **_error_responses()},
            }
        },
        "/tokenize": _post("Tokenize a prompt or messages", "TokenizeRequest", "TokenizeResponse"),
        "/detokenize": _post("Turn token ids into text", "DetokenizeRequest", "DetokenizeResponse"),
        "/healthz": _plain_get("Liveness", security=False),
        "/readyz": _plain_get(
            "Readiness: artifact verified and model warm",
            security=False,
            extra={"503": {"description": "Not ready."}},
        ),
        "/metrics": _plain_get("Prometheus metrics", media="text/plain"),
    }


def _json(name: str, description: str = "OK") -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}},
    }


def _error_responses() -> dict[str, Any]:
    return {code: _json("ErrorBody", text) for code, text in _ERRORS.items()}


def _post(summary: str, request: str, response: str, stream: bool = False) -> dict[str, Any]:
    ok = _json(response)
    if stream:
        ok["content"]["text/event-stream"] = {"schema": {"type": "string"}}
    return {
        "post": {
            "summary": summary,
            "operationId": request[0].lower() + request[1:].removesuffix("Request"),
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": f"#/components/schemas/{request}"}}
                },
            },
            "responses": {"200": ok, **_error_responses()},
        }
    }


def _plain_get(
    summary: str,
    *,
    security: bool = True,
    media: str = "application/json",
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": summary,
        "operationId": summary.split(":")[0].lower().replace(" ", "_"),
        "responses": {
            "200": {"description": "OK", "content": {media: {"schema": {}}}},
            **(extra or {}),
        },
    }
    if not security:
        operation["security"] = []
    return {"get": operation}


async def openapi_json(request: Request) -> Response:
    return JSONResponse(request.app.state.openapi)


async def docs(request: Request) -> Response:
    """A readable page without any CDN: every operation and schema, rendered server-side."""
    schema = request.app.state.openapi
    parts = [
        f"<h1>{html.escape(schema['info']['title'])}</h1>",
        f"<p>{html.escape(schema['info']['description'])} "
        "Authenticate with <code>Authorization: Bearer &lt;key&gt;</code>. "
        "Machine-readable: <a href='/openapi.json'>/openapi.json</a>.</p>",
    ]
    for path, operations in schema["paths"].items():
        for method, op in operations.items():
            parts.append(
                f"<h2><code>{method.upper()} {html.escape(path)}</code></h2>"
                f"<p>{html.escape(op['summary'])}</p><ul>"
            )
            for code, response in op["responses"].items():
                parts.append(f"<li>{code}: {html.escape(response['description'])}</li>")
            parts.append("</ul>")
    parts.append("<h2>Schemas</h2>")
    for name, body in schema["components"]["schemas"].items():
        pretty = html.escape(json.dumps(body, indent=2))
        parts.append(f"<h3 id='{name}'>{name}</h3><pre>{pretty}</pre>")
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>API docs</title>"
        "<style>body{font-family:sans-serif;max-width:60em;margin:auto}"
        "pre{background:#f4f4f4;padding:1em;overflow:auto}</style></head><body>"
        + "".join(parts)
        + "</body></html>"
    )
    return HTMLResponse(page)
