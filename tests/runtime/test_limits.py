"""Auth, rate limits, overload, body limits, timeouts and disconnects, over real HTTP.

These run on the tiny random-weight artifact: only the protocol matters here.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.runtime.conftest import API_KEY, LiveServer, running, settings_for

MESSAGES = [{"role": "user", "content": "Say something long."}]


@pytest.fixture(scope="module")
def server(tiny_artifact: Path) -> Iterator[LiveServer]:
    settings = settings_for(
        tiny_artifact,
        max_concurrent_requests=1,
        max_queue=1,
        max_body_bytes=20_000,
        rate_limit_per_key_rpm=10_000,
        failed_auth_per_minute=1000,  # these tests fail auth on purpose, many times
    )
    with running(settings) as live:
        yield live


def _chat(server: LiveServer, **body: object) -> dict[str, object]:
    return {"model": server.service.model_name, "messages": MESSAGES, **body}


def test_health_endpoints_need_no_key(server: LiveServer) -> None:
    assert httpx.get(server.url + "/healthz").json() == {"status": "ok"}
    ready = httpx.get(server.url + "/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"


@pytest.mark.parametrize("path", ["/v1/models", "/metrics", "/openapi.json", "/docs"])
@pytest.mark.parametrize("authorization", [None, "Bearer wrong-key", f"Basic {API_KEY}"])
def test_everything_else_needs_a_valid_key(
    server: LiveServer, path: str, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = httpx.get(server.url + path, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"]["code"] == "invalid_api_key"


def test_openai_client_without_the_key_gets_401(server: LiveServer) -> None:
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="nope", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        client.models.list()


def test_responses_carry_a_request_id(server: LiveServer) -> None:
    response = server.http().get("/v1/models", headers={"X-Request-Id": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    assert len(server.http().get("/v1/models").headers["x-request-id"]) == 32


def test_oversized_body_is_413(server: LiveServer) -> None:
    body = _chat(server, messages=[{"role": "user", "content": "x" * 30_000}])
    response = server.http().post("/v1/chat/completions", json=body)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"


def test_malformed_json_is_400(server: LiveServer) -> None:
    response = server.http().post("/v1/chat/completions", content=b"{not json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_json"


def test_overload_is_refused_at_once_with_retry_after(server: LiveServer) -> None:
    """One running and one queued request fill this server; the next one gets 429 now."""
    http = server.http()
    long = _chat(server, max_tokens=2000, stream=True)
    with (
        http.stream("POST", "/v1/chat/completions", json=long) as first,
        http.stream("POST", "/v1/chat/completions", json=long) as second,
    ):
        assert first.status_code == 200 and second.status_code == 200
        started = time.monotonic()
        refused = server.http().post("/v1/chat/completions", json=_chat(server, max_tokens=4))
        assert time.monotonic() - started < 1.0
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.json()["error"]["code"] == "server_overloaded"
    # Both streams were abandoned: the capacity comes back.
    _wait(lambda: server.service.inflight == 0)
    ok = server.http().post("/v1/chat/completions", json=_chat(server, max_tokens=4))
    assert ok.status_code == 200


def test_disconnect_stops_the_generation(server: LiveServer) -> None:
    http = server.http()
    before = _generated_tokens(server)
    with http.stream(
        "POST", "/v1/chat/completions", json=_chat(server, max_tokens=2000, stream=True)
    ) as response:
        lines = response.iter_lines()
        for _ in range(6):
            next(lines)
    _wait(lambda: server.service.engine.running == 0)  # type: ignore[union-attr]
    time.sleep(0.2)
    assert _generated_tokens(server) - before < 500
    assert 'servespec_requests_total{route="chat",status="499"}' in http.get("/metrics").text


def test_non_streaming_disconnect_stops_the_generation(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The tiny model can decode 2000 tokens before the client gives up on a fast machine:
    # pace its steps (5 ms) so only a working disconnect can stop the request early.
    engine = server.service.engine  # type: ignore[union-attr]
    decode = engine.model.decode

    def paced(*args: object) -> object:
        time.sleep(0.005)
        return decode(*args)

    monkeypatch.setattr(engine.model, "decode", paced)
    before = _generated_tokens(server)
    # Closing the client closes the socket: that, not the timeout, is what the server sees.
    with server.http() as http, pytest.raises(httpx.ReadTimeout):
        http.post(
            "/v1/chat/completions",
            json=_chat(server, max_tokens=2000),
            timeout=httpx.Timeout(30.0, read=0.3),
        )
    _wait(lambda: server.service.engine.running == 0)  # type: ignore[union-attr]
    assert _generated_tokens(server) - before < 1900


def test_feedback_is_recorded(server: LiveServer) -> None:
    answer = server.http().post("/v1/chat/completions", json=_chat(server, max_tokens=2)).json()
    response = server.http().post(
        "/v1/feedback", json={"response_id": answer["id"], "rating": 1, "comment": "good"}
    )
    assert response.json() == {"status": "recorded", "response_id": answer["id"]}
    assert 'servespec_feedback_total{rating="1"} 1.0' in server.http().get("/metrics").text
    unknown = server.http().post("/v1/feedback", json={"response_id": "chatcmpl-1", "rating": 1})
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "response_not_found"
    bad = server.http().post("/v1/feedback", json={"response_id": "x", "rating": 7})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "rating"


def test_metrics_use_serving_names(server: LiveServer) -> None:
    # One answered request of its own: histograms show no buckets before their first value.
    answered = server.http().post("/v1/chat/completions", json=_chat(server, max_tokens=2))
    assert answered.status_code == 200
    text = server.http().get("/metrics").text
    for name in (
        "servespec_requests_total",
        "servespec_request_duration_seconds_bucket",
        "servespec_time_to_first_token_seconds_bucket",
        "servespec_prompt_tokens_total",
        "servespec_generation_tokens_total",
        "servespec_num_requests_running",
        "servespec_num_requests_waiting",
        "servespec_batch_size_bucket",
    ):
        assert name in text


def test_timeout_ends_the_request(tiny_artifact: Path) -> None:
    with running(settings_for(tiny_artifact, request_timeout_s=0.3)) as live:
        client = live.client()
        with pytest.raises(openai.APIStatusError) as caught:
            client.chat.completions.create(
                model=live.service.model_name,
                messages=MESSAGES,  # type: ignore[arg-type]
                max_tokens=2000,
                temperature=0,
            )
        assert caught.value.status_code == 504
        _wait(lambda: live.service.engine.running == 0)  # type: ignore[union-attr]


def test_rate_limit_per_key_is_429(tiny_artifact: Path) -> None:
    with running(settings_for(tiny_artifact, rate_limit_per_key_rpm=3)) as live:
        client = live.client()
        for _ in range(3):
            client.models.list()
        with pytest.raises(openai.RateLimitError) as caught:
            client.models.list()
        assert caught.value.code == "rate_limit_exceeded"
        assert int(caught.value.response.headers["retry-after"]) >= 1
        # Health checks are never rate limited.
        assert httpx.get(live.url + "/readyz").status_code == 200


def _generated_tokens(server: LiveServer) -> float:
    text = server.http().get("/metrics").text
    return sum(float(v) for v in re.findall(r"servespec_generation_tokens_total\{.*\} (\S+)", text))


def _wait(condition: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.02)


def test_prompt_text_stays_out_of_logs(
    server: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    # A marker no timestamp, thread id or request id can contain by chance.
    secret = "my card number is 4111-1111-zebra"
    caplog.set_level("INFO")
    response = server.http().post(
        "/v1/chat/completions",
        json=_chat(server, messages=[{"role": "user", "content": secret}], max_tokens=3),
    )
    assert response.status_code == 200
    messages = [str(vars(r)) for r in caplog.records]
    assert any("completion" in m for m in messages)
    assert not any("4111-1111" in m or "zebra" in m for m in messages)
