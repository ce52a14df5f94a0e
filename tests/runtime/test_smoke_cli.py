"""`servespec smoke` against a live runtime, with its key read from moto's Secrets Manager."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner

from compiler.cli import cli
from compiler.keys.store import SecretKeys
from tests.runtime.conftest import running, settings_for

SPEC = "spec/assistant.yaml"
MODEL = "smollm2-135m-instruct"  # the spec's model.name


@pytest.fixture
def key(aws_reset: str) -> str:
    client = boto3.client("secretsmanager", endpoint_url=aws_reset, region_name="eu-west-1")
    client.create_secret(Name="assistant-staging/api-keys")
    found, _ = SecretKeys(client, "assistant-staging/api-keys").ensure()
    return found.key


def smoke(url: str, endpoint: str, *extra: str) -> Any:
    args = ["smoke", SPEC, "--env", "staging", "--base-url", url, "--endpoint-url", endpoint]
    return CliRunner().invoke(cli, [*args, *extra])


def test_smoke_passes_against_a_serving_runtime(
    tiny_artifact: Path, key: str, aws_reset: str
) -> None:
    settings = settings_for(tiny_artifact, api_keys=(key,), served_model_name=MODEL)
    with running(settings) as live:
        result = smoke(live.url, aws_reset)
    assert result.exit_code == 0, result.output
    for check in ("models", "chat", "chat stream", "wrong key refused"):
        assert f"ok  {check}" in result.output
    assert key not in result.output


def test_smoke_fails_when_the_spec_model_is_not_served(
    tiny_artifact: Path, key: str, aws_reset: str
) -> None:
    settings = settings_for(tiny_artifact, api_keys=(key,), served_model_name="other")
    with running(settings) as live:
        result = smoke(live.url, aws_reset)
    assert result.exit_code == 1 and "not served" in result.output


def test_connect_to_reaches_the_load_balancer_under_the_api_name(
    tiny_artifact: Path, key: str, aws_reset: str
) -> None:
    """DNS for the API name does not resolve here; --connect-to reaches the server anyway."""
    settings = settings_for(tiny_artifact, api_keys=(key,), served_model_name=MODEL)
    with running(settings) as live:
        unresolvable = live.url.replace("127.0.0.1", "api.staging.invalid")
        without = smoke(unresolvable, aws_reset)
        result = smoke(unresolvable, aws_reset, "--connect-to", "127.0.0.1")
    assert without.exit_code == 1
    assert result.exit_code == 0, result.output
