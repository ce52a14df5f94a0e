"""Shutdown, metrics and exposure over real HTTP on the tiny artifact: streams cut by the
drain end properly, /metrics stays with operators, idle and half-sent connections close,
and failed authentication is throttled."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.runtime.conftest import API_KEY, LiveServer, free_port, running, settings_for

BODY = {"messages": [{"role": "user", "content": "Say something long."}], "max_tokens": 1500}


def _long(server: LiveServer, **extra: object) -> dict[str, object]:
    """A request that runs until cut: the random tiny model may not end it with EOS."""
    artifact = server.service.artifact
    assert artifact is not None
    never = {str(token): -100 for token in artifact.eos_token_ids}
    return {**BODY, "model": server.service.model_name, "logit_bias": never, **extra}


def _pace(server: LiveServer, monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    engine = server.service.engine
    assert engine is not None
    decode = engine.model.decode

    def paced(*args: object) -> object:
        time.sleep(seconds)
        return decode(*args)

    monkeypatch.setattr(engine.model, "decode", paced)


def test_a_stream_open_at_the_end_of_the_grace_gets_an_error_and_done(
    tiny_artifact: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_for(tiny_artifact, shutdown_grace_s=3.0, request_timeout_s=60)
    with running(settings) as server:
        _pace(server, monkeypatch, 0.01)
        body = _long(server, stream=True)
        with server.http() as http, http.stream("POST", "/v1/chat/completions", json=body) as r:
            lines = r.iter_lines()
            next(lines)
            started = time.monotonic()
            server.service.drain()  # what SIGTERM does first
            events = [line for line in lines if line.startswith("data: ")]
        ended = time.monotonic() - started
        assert events[-1] == "data: [DONE]"
        error = json.loads(events[-2].removeprefix("data: "))["error"]
        assert error["code"] == "shutting_down"
        assert 1.0 <= ended <= 2.5  # the grace (3 s) less the margin, before uvicorn cuts


def test_metrics_are_on_their_own_port_not_behind_api_keys(tiny_artifact: Path) -> None:
    port = free_port()
    with running(settings_for(tiny_artifact, metrics_port=port)) as server:
        refused = server.http().get("/metrics")
        assert refused.status_code == 404
        exposed = httpx.get(f"http://127.0.0.1:{port}/metrics")
        assert exposed.status_code == 200 and "servespec_requests_total" in exposed.text


@pytest.fixture(scope="module")
def server(tiny_artifact: Path) -> Iterator[LiveServer]:
    settings = settings_for(
        tiny_artifact,
        max_concurrent_requests=1,
        max_queue=0,
        failed_auth_per_minute=3,
        header_timeout_s=1.0,
        max_connections=8,
    )
    with running(settings) as live:
        yield live


def test_429s_and_queue_time_are_in_the_metrics(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    _pace(server, monkeypatch, 0.01)
    body = _long(server, stream=True)
    with server.http() as http, http.stream("POST", "/v1/chat/completions", json=body) as r:
        lines = r.iter_lines()  # kept: a collected iterator closes the stream
        next(lines)
        refused = server.http().post("/v1/chat/completions", json={**body, "max_tokens": 2})
        assert refused.status_code == 429
    text = server.http().get("/metrics").text
    assert 'servespec_requests_total{route="chat",status="429"} 1.0' in text
    assert "servespec_request_queue_duration_seconds_count 1.0" in text


def test_failed_authentication_is_throttled_per_client(server: LiveServer) -> None:
    wrong = {"Authorization": "Bearer wrong"}
    statuses = [httpx.get(server.url + "/v1/models", headers=wrong).status_code for _ in range(5)]
    assert statuses == [401, 401, 401, 429, 429]
    throttled = httpx.get(server.url + "/v1/models", headers={"Authorization": f"Bearer {API_KEY}"})
    assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) >= 1
    # Another client (as the load balancer reports it) is not affected.
    other = {"X-Forwarded-For": "203.0.113.9", "Authorization": f"Bearer {API_KEY}"}
    assert httpx.get(server.url + "/v1/models", headers=other).status_code == 200
    assert httpx.get(server.url + "/healthz").status_code == 200  # probes are never throttled


def test_a_half_sent_request_is_closed_at_the_header_deadline(server: LiveServer) -> None:
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        assert sock.recv(1024) == b""  # closed by the server, without an answer
        assert time.monotonic() - started < 5


def test_connections_beyond_the_cap_are_closed(server: LiveServer) -> None:
    """Connections are opened one at a time, each answering one request (kept alive), until
    one is closed at once: that happens by the cap's 9th, whatever earlier tests left open
    (a count or a sleep would race with them and with a busy machine)."""
    host, port = server.url.removeprefix("http://").split(":")
    opened: list[socket.socket] = []
    try:
        for _ in range(9):
            sock = socket.create_connection((host, int(port)), timeout=10)
            opened.append(sock)
            try:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                answer = sock.recv(4096)
            except ConnectionResetError:
                answer = b""
            if not answer:
                break  # closed at once: beyond the cap
            assert answer.startswith(b"HTTP/1.1 200")
        else:
            pytest.fail("9 connections held open with a cap of 8")
    finally:
        for sock in opened:
            sock.close()
    time.sleep(0.2)
    assert httpx.get(server.url + "/healthz").status_code == 200


def test_a_body_that_never_arrives_is_408(tiny_artifact: Path) -> None:
    with running(settings_for(tiny_artifact, request_timeout_s=1.0)) as server:
        host, port = server.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(
                f"POST /v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {API_KEY}"
                "\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{".encode()
            )
            started = time.monotonic()
            answer = sock.recv(4096)
        assert answer.startswith(b"HTTP/1.1 408") and time.monotonic() - started < 5
