"""WatchedSend and the middlewares that wrap `send` with it, driven as plain ASGI apps.

The live-server tests (test_bad_input, test_limits) cover the same behaviour end to end;
these pin the edge the wrapper decides: whether a response had started when the app failed.
"""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from starlette.types import Message, Receive, Scope, Send

from runtime.bodylimit import BodyLimitMiddleware
from runtime.errors import ContainErrors
from runtime.logs import RequestContextMiddleware
from runtime.sendwatch import WatchedSend

SCOPE: Scope = {"type": "http", "method": "POST", "path": "/v1/completions", "headers": []}
START: Message = {"type": "http.response.start", "status": 200, "headers": [(b"a", b"1")]}


def _drive(app: object, body: bytes = b"") -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app(SCOPE, receive, send))  # type: ignore[operator]
    return sent


async def _fails_before_start(scope: Scope, receive: Receive, send: Send) -> None:
    raise RuntimeError("before")


async def _fails_after_start(scope: Scope, receive: Receive, send: Send) -> None:
    await send(dict(START))
    raise RuntimeError("after")


async def _reads_body(scope: Scope, receive: Receive, send: Send) -> None:
    await receive()
    await send(dict(START))
    await send({"type": "http.response.body", "body": b"ok"})


def test_watched_send_notes_the_start_and_adds_headers_to_a_copy() -> None:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    watched = WatchedSend(send, [(b"x-request-id", b"r1")])
    original = dict(START)
    headers = original["headers"]
    assert not watched.started and watched.status is None
    asyncio.run(watched(original))
    asyncio.run(watched({"type": "http.response.body", "body": b""}))
    assert watched.started and watched.status == 200
    assert sent[0]["headers"] == [(b"a", b"1"), (b"x-request-id", b"r1")]
    assert headers == [(b"a", b"1")]  # the app's list is not changed in place
    assert len(sent) == 2


def test_contain_errors_answers_500_before_the_response_starts(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sent = _drive(ContainErrors(_fails_before_start))
    assert sent[0]["status"] == 500
    assert json.loads(sent[1]["body"])["error"]["code"] == "internal_error"
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == [
        "unhandled error"
    ]


def test_contain_errors_sends_nothing_more_once_the_response_started() -> None:
    sent = _drive(ContainErrors(_fails_after_start))
    assert [m["type"] for m in sent] == ["http.response.start"]
    assert sent[0]["status"] == 200


def test_request_context_adds_the_id_and_logs_the_status(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="servespec.access")
    sent = _drive(RequestContextMiddleware(_reads_body))
    rid = dict(sent[0]["headers"])[b"x-request-id"]
    assert len(rid) == 32
    (line,) = [r for r in caplog.records if r.name == "servespec.access"]
    assert line.__dict__["status"] == 200


def test_request_context_logs_500_when_nothing_was_sent(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="servespec.access")
    with pytest.raises(RuntimeError):
        _drive(RequestContextMiddleware(_fails_before_start))
    (line,) = [r for r in caplog.records if r.name == "servespec.access"]
    assert line.__dict__["status"] == 500


def test_body_limit_answers_413_only_before_the_response_starts() -> None:
    sent = _drive(BodyLimitMiddleware(_reads_body, max_bytes=4), body=b"x" * 5)
    assert sent[0]["status"] == 413 and len(sent) == 2
    assert _drive(BodyLimitMiddleware(_reads_body, max_bytes=8), body=b"x" * 5)[0]["status"] == 200
