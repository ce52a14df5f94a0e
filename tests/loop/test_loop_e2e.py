"""The loop end to end: two variants serve, users are rated, `ab report` names the better one.

Variant ``a`` serves the real SmolLM2 artifact, ``b`` a deliberately worse one (random
weights), both under the same model name and both capturing to S3 on moto_server. What is
emulated: the load balancer's split (each user goes to ``variants.assign(user)``, the sticky
hash the runtime ships) and the users' ratings (+1 when the answer has the expected word).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx
import pytest
from click.testing import CliRunner

from compiler.cli import cli
from runtime.variants import assign, parse_weights
from tests.runtime import builders
from tests.runtime.conftest import API_KEY, LiveServer, running, settings_for

pytestmark = pytest.mark.slow
QUESTIONS = [
    ("What is the capital of France?", "paris"),
    ("What is 2 + 2?", "4"),
    ("Say hello.", "hello"),
]
PER_VARIANT = 24
MODEL = "assistant"


@contextlib.contextmanager
def _variant(name: str, artifact: Path, endpoint: str) -> Iterator[LiveServer]:
    env = {
        "SERVESPEC_VARIANT": name,
        "SERVESPEC_VARIANTS": "a,b",
        "SERVESPEC_MODEL_VERSION": f"v-{name}",
        "SERVESPEC_CAPTURE_URI": "s3://capture/records",
        "SERVESPEC_S3_ENDPOINT_URL": endpoint,
    }
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        settings = settings_for(artifact, served_model_name=MODEL, max_concurrent_requests=4)
        with running(settings) as live:
            yield live


def _ask_and_rate(server: LiveServer, user: str, turn: int) -> str:
    question, expected = QUESTIONS[turn % len(QUESTIONS)]
    with httpx.Client(headers={"Authorization": f"Bearer {API_KEY}"}, timeout=120) as http:
        answer = http.post(
            server.url + "/v1/chat/completions",
            json={
                "model": MODEL,
                "messages": [{"role": "user", "content": question}],
                "max_tokens": 12,
                "temperature": 0,
                "user": user,
            },
        )
        answer.raise_for_status()
        body = answer.json()
        rating = 1 if expected in body["choices"][0]["message"]["content"].lower() else -1
        feedback = {"response_id": body["id"], "rating": rating}
        http.post(server.url + "/v1/feedback", json=feedback).raise_for_status()
        return str(answer.headers["x-servespec-variant"])


def test_ab_report_names_the_better_variant(model_artifact: Path, aws_reset: str) -> None:
    s3 = boto3.client("s3", endpoint_url=aws_reset, region_name="eu-west-1")
    s3.create_bucket(
        Bucket="capture", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    weights = parse_weights("a:50,b:50")
    users: dict[str, list[str]] = {"a": [], "b": []}
    for i in range(10_000):  # sticky assignment of users until both variants are full
        user = f"user-{i}"
        group = users[assign(user, weights)]
        if len(group) < PER_VARIANT:
            group.append(user)
        if all(len(g) == PER_VARIANT for g in users.values()):
            break
    with (
        _variant("a", model_artifact, aws_reset) as a,
        _variant("b", builders.tiny_artifact(), aws_reset) as b,
        concurrent.futures.ThreadPoolExecutor(4) as pool,
    ):
        servers = {"a": a, "b": b}
        answered = pool.map(
            lambda job: _ask_and_rate(servers[job[0]], job[1], job[2]),
            [(v, u, i) for v, group in users.items() for i, u in enumerate(group)],
        )
        assert sorted(answered) == ["a"] * PER_VARIANT + ["b"] * PER_VARIANT
    # Leaving the servers flushed their last capture batches.
    options = ["--endpoint-url", aws_reset, "--min-samples", "20", "--format", "json"]
    result = CliRunner().invoke(cli, ["ab", "report", "s3://capture/records/", *options])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["winner"] == "a" and report["p_value"] < 0.05, report
    assert report["variants"]["a"]["feedback"] == PER_VARIANT
    assert report["variants"]["b"]["requests"] == PER_VARIANT
