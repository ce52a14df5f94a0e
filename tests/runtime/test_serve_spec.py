"""`servespec serve --spec SPEC --env ENV` serves with the task definition's settings."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from compiler.spec import load_resolved
from runtime.cli import _spec_environment, serve
from runtime.settings import Settings


def test_serve_takes_the_spec_values_not_the_runtime_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SERVESPEC_MAX_QUEUE", raising=False)
    spec = load_resolved("spec/assistant.yaml", "staging")
    settings = Settings.from_env(_spec_environment("spec/assistant.yaml", "staging"), artifact="x")
    defaults = Settings(artifact="x")
    assert settings.max_queue == spec.serving.max_queue != defaults.max_queue
    assert settings.max_concurrent_requests == spec.serving.max_concurrent_requests
    assert settings.rate_limit_per_key_rpm == spec.serving.rate_limit_per_key_rpm
    assert settings.api_keys_secret is None  # a local run never reads the deployed secret


def test_the_caller_environment_still_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVESPEC_MAX_QUEUE", "3")
    settings = Settings.from_env(_spec_environment("spec/assistant.yaml", "staging"), artifact="x")
    assert settings.max_queue == 3


def test_spec_and_env_come_together() -> None:
    result = CliRunner().invoke(serve, ["x", "--spec", "spec/assistant.yaml"])
    assert result.exit_code == 2 and "--spec needs --env" in result.output
