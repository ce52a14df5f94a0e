"""`servespec usage` from CloudWatch metrics and from capture records, on moto_server."""

from __future__ import annotations

import datetime as dt
import json

import boto3
from click.testing import CliRunner

from compiler.cli import cli

SPEC = ["spec/assistant.yaml", "--env", "prod"]


def test_usage_from_cloudwatch_sums_per_key(aws_reset: str) -> None:
    # What CloudWatch extracts from the runtime's EMF lines (Requests/TokensIn/TokensOut
    # by KeyId, experiment.Experiment._emit_usage); the extraction itself is AWS's.
    cloudwatch = boto3.client("cloudwatch", endpoint_url=aws_reset, region_name="eu-west-1")
    now = dt.datetime.now(dt.UTC)
    for key, calls in (("aaaa11112222", 3), ("bbbb33334444", 1)):
        for _ in range(calls):
            cloudwatch.put_metric_data(
                Namespace="servespec/assistant",
                MetricData=[
                    {"MetricName": name, "Value": value, "Timestamp": now,
                     "Dimensions": [{"Name": "KeyId", "Value": key}]}
                    for name, value in (("Requests", 1), ("TokensIn", 10), ("TokensOut", 5))
                ],
            )  # fmt: skip
    result = CliRunner().invoke(
        cli, ["usage", *SPEC, "--endpoint-url", aws_reset, "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    keys = json.loads(result.output)["keys"]
    assert keys == {
        "aaaa11112222": {"requests": 3, "prompt_tokens": 30, "completion_tokens": 15},
        "bbbb33334444": {"requests": 1, "prompt_tokens": 10, "completion_tokens": 5},
    }


def test_usage_from_the_capture_bucket(aws_reset: str) -> None:
    s3 = boto3.client("s3", endpoint_url=aws_reset, region_name="eu-west-1")
    account = boto3.client("sts", endpoint_url=aws_reset).get_caller_identity()["Account"]
    bucket = f"assistant-prod-capture-{account}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    records = [
        {"type": "request", "id": f"r{i}", "key_id": f"k{i % 2}", "status": 200,
         "prompt_tokens": 7, "completion_tokens": 3}
        for i in range(5)
    ] + [{"type": "feedback", "id": "r0", "rating": 1}]  # fmt: skip
    body = "".join(json.dumps(r) + "\n" for r in records).encode()
    s3.put_object(Bucket=bucket, Key="capture/variant=default/date=x/1.jsonl", Body=body)
    result = CliRunner().invoke(
        cli, ["usage", *SPEC, "--source", "capture", "--endpoint-url", aws_reset]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[1].split() == ["k0", "3", "21", "9"]
    assert lines[3].split() == ["total", "5", "35", "15"]
    assert lines[4] == f"source: s3://{bucket}/capture/"
