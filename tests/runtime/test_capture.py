"""Capture, feedback and variants over real HTTP, writing to S3 on a real moto_server."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from runtime.capture import CaptureSettings, Recorder
from runtime.metrics import Metrics
from runtime.variants import VariantError, VariantSettings, assign, parse_weights
from tests.runtime.conftest import LiveServer, running, settings_for

REQUEST_KEYS = {
    "type", "id", "time", "variant", "model_version", "key_id", "status",
    "prompt_tokens", "completion_tokens", "ttft_ms", "latency_ms",
}  # fmt: skip


def _chat(server: LiveServer, text: str = "Hi") -> dict[str, object]:
    model = server.service.model_name
    return {"model": model, "messages": [{"role": "user", "content": text}], "max_tokens": 3}


@pytest.fixture
def bucket(aws_reset: str) -> tuple[str, str]:
    s3 = boto3.client("s3", endpoint_url=aws_reset, region_name="eu-west-1")
    s3.create_bucket(
        Bucket="capture", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    kms = boto3.client("kms", endpoint_url=aws_reset, region_name="eu-west-1")
    return aws_reset, kms.create_key()["KeyMetadata"]["Arn"]


@pytest.fixture
def variant_b(tiny_artifact: Path, bucket: tuple[str, str]) -> Iterator[LiveServer]:
    endpoint, key_arn = bucket
    env = {
        "SERVESPEC_VARIANT": "b",
        "SERVESPEC_VARIANTS": "a,b",
        "SERVESPEC_MODEL_VERSION": "2026-01-02",
        "SERVESPEC_CAPTURE_URI": "s3://capture/records",
        "SERVESPEC_CAPTURE_KMS_KEY_ID": key_arn,
        "SERVESPEC_CAPTURE_FLUSH_S": "30",
        "SERVESPEC_S3_ENDPOINT_URL": endpoint,
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        with running(settings_for(tiny_artifact)) as live:
            yield live


def _records(endpoint: str) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="eu-west-1")
    objects = s3.list_objects_v2(Bucket="capture", Prefix="records/")["Contents"]
    records, heads = [], []
    for item in objects:
        assert item["Key"].startswith("records/variant=b/date=")
        heads.append(s3.head_object(Bucket="capture", Key=item["Key"]))
        body = s3.get_object(Bucket="capture", Key=item["Key"])["Body"].read().decode()
        records += [json.loads(line) for line in body.splitlines()]
    return records, heads


def test_requests_and_feedback_land_in_s3_under_kms(
    variant_b: LiveServer, bucket: tuple[str, str]
) -> None:
    endpoint, key_arn = bucket
    with variant_b.http() as http:
        answers = [http.post("/v1/chat/completions", json=_chat(variant_b)) for _ in range(3)]
        assert {a.headers["x-servespec-variant"] for a in answers} == {"b"}
        rated = answers[0].json()["id"]
        assert http.post("/v1/feedback", json={"response_id": rated, "rating": -1}).is_success
        unknown = http.post("/v1/feedback", json={"response_id": "chatcmpl-x", "rating": 1})
        assert unknown.status_code == 404
        metrics = http.get("/metrics").text
    assert 'servespec_variant_requests_total{status="200",variant="b"} 3.0' in metrics
    assert 'servespec_key_requests_total{key_id="' in metrics
    variant_b.stop()  # the lifespan flushes the last batch
    records, heads = _records(endpoint)
    assert {h["ServerSideEncryption"] for h in heads} == {"aws:kms"}
    assert {h["SSEKMSKeyId"] for h in heads} == {key_arn}
    requests = [r for r in records if r["type"] == "request"]
    assert len(requests) == 3
    for record in requests:
        assert set(record) >= REQUEST_KEYS and "prompt" not in record
        assert record["variant"] == "b" and record["model_version"] == "2026-01-02"
        assert record["status"] == 200 and record["completion_tokens"] == 3
    [feedback] = [r for r in records if r["type"] == "feedback"]
    assert feedback["id"] == rated and feedback["rating"] == -1 and feedback["variant"] == "b"


def test_a_pin_to_another_variant_is_refused(variant_b: LiveServer) -> None:
    with variant_b.http() as http:
        other = http.post(
            "/v1/chat/completions", json=_chat(variant_b), headers={"X-Servespec-Variant": "a"}
        )
        unknown = http.post(
            "/v1/chat/completions", json=_chat(variant_b), headers={"X-Servespec-Variant": "zz"}
        )
        own = http.post(
            "/v1/chat/completions", json=_chat(variant_b), headers={"X-Servespec-Variant": "b"}
        )
    assert other.status_code == 421 and other.json()["error"]["code"] == "variant_misdirected"
    assert unknown.status_code == 400 and "a, b" in unknown.json()["error"]["message"]
    assert own.status_code == 200


def test_text_is_kept_only_when_allowed(tmp_path: Path) -> None:
    for keep in (False, True):
        root = tmp_path / str(keep)
        recorder = Recorder(CaptureSettings(uri=str(root), keep_text=keep), "a", "v1")
        recorder.request({"id": "chatcmpl-1", "status": 200}, "the prompt", "the answer")
        assert recorder.feedback("chatcmpl-1", 1, "nice", "k1")
        recorder.close()
        [batch] = root.rglob("*.jsonl")
        request, feedback = map(json.loads, batch.read_text().splitlines())
        assert ("prompt" in request) is keep and (feedback["comment"] == "nice") is keep
        assert not list(root.rglob("*.partial"))


def test_sampling_records_a_share_but_remembers_every_response(tmp_path: Path) -> None:
    recorder = Recorder(CaptureSettings(uri=str(tmp_path), sample_percent=10), "a", "v1")
    for i in range(1000):
        recorder.request({"id": f"chatcmpl-{i}", "status": 200}, None, "")
    recorder.close()
    lines = sum(len(p.read_text().splitlines()) for p in tmp_path.rglob("*.jsonl"))
    assert 60 <= lines <= 140
    assert recorder.variant_of("chatcmpl-999") == "a"


def test_assignment_is_sticky_and_follows_the_weights() -> None:
    weights = parse_weights("a:90,b:10")
    callers = [f"key-{i}" for i in range(10_000)]
    first = [assign(c, weights) for c in callers]
    assert first == [assign(c, weights) for c in callers]
    assert 0.08 < first.count("b") / len(first) < 0.12
    with pytest.raises(VariantError, match="sum to 100"):
        parse_weights("a:90,b:20")
    with pytest.raises(VariantError, match="not in"):
        VariantSettings.from_env({"SERVESPEC_VARIANTS": "a,b", "SERVESPEC_VARIANT": "c"})


def test_emf_carries_the_variant_dimension() -> None:
    stream = io.StringIO()
    metrics = Metrics("servespec/x", "m", emf_stream=stream)
    metrics.variant = "b"
    metrics.emit_emf(latency_s=0.1, ttft_s=None, error=False, tokens_out=1)
    line = json.loads(stream.getvalue())
    assert line["Variant"] == "b"
    assert line["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Model"], ["Model", "Variant"]]
