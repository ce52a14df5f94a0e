"""The published schema: schemathesis fuzzes every operation and must never see a 5xx."""

from __future__ import annotations

import itertools
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from tests.runtime.conftest import API_KEY, LiveServer, running, settings_for

# Per operation and generation mode (~250 requests in all in CI); a bigger run by hand:
# SERVESPEC_FUZZ_EXAMPLES=500 pytest tests/runtime/test_openapi.py
EXAMPLES = int(os.environ.get("SERVESPEC_FUZZ_EXAMPLES", "15"))


@pytest.fixture(scope="module")
def server(tiny_artifact: Path) -> Iterator[LiveServer]:
    # A small default budget keeps fuzzed generations short; the timeout must not fire.
    with running(
        settings_for(
            tiny_artifact,
            max_tokens_default=8,
            request_timeout_s=120,
            rate_limit_per_key_rpm=1_000_000,
            failed_auth_per_minute=1_000_000,
        )
    ) as live:
        yield live


def test_no_operation_answers_5xx(server: LiveServer) -> None:
    auth = {"Authorization": f"Bearer {API_KEY}"}
    schema = schemathesis.openapi.from_url(server.url + "/openapi.json", headers=auth)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 10
    statuses: Counter[int] = Counter()
    for operation, mode in itertools.product(operations, schemathesis.GenerationMode):
        if mode is schemathesis.GenerationMode.NEGATIVE and operation.method.upper() != "POST":
            continue  # a GET without parameters has no invalid input to generate

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: Any) -> None:
            # A random model name is always a 404; naming the served model lets the fuzzer
            # reach tokenization, the engine and streaming too.
            if isinstance(case.body, dict) and isinstance(case.body.get("model"), str):
                case.body["model"] = server.service.model_name
            response = case.call_and_validate(
                headers=auth, checks=[not_a_server_error], timeout=120
            )
            statuses[response.status_code] += 1

        fuzz()
    # Shown with `pytest -s`: what a bigger run by hand covered.
    print(f"fuzzed {sum(statuses.values())} requests: {dict(sorted(statuses.items()))}")
    rejected = sum(n for status, n in statuses.items() if 400 <= status < 500)
    assert statuses[200] >= 20 and rejected >= 20, statuses


def test_schema_documents_the_api(server: LiveServer) -> None:
    document = server.http().get("/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    assert {
        "/v1/chat/completions",
        "/v1/completions",
        "/v1/models",
        "/v1/feedback",
        "/healthz",
        "/readyz",
        "/metrics",
    } <= set(document["paths"])
    chat = document["components"]["schemas"]["ChatCompletionRequest"]
    assert {"model", "messages"} <= set(chat["required"])
    docs = server.http().get("/docs")
    assert docs.headers["content-type"].startswith("text/html")
    assert "POST /v1/chat/completions" in docs.text and "<script" not in docs.text
