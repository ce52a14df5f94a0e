from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from runtime.capture import CaptureSettings
from runtime.settings import Settings, SettingsError
from runtime.variants import VariantSettings


def test_settings_come_from_servespec_variables(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.write_text("# from Secrets Manager\nkey-b\n\nkey-c\n")
    settings = Settings.from_env(
        {
            "SERVESPEC_ARTIFACT": "s3://bucket/models/v1",
            "SERVESPEC_PORT": "9000",
            "SERVESPEC_API_KEYS": "key-a, ",
            "SERVESPEC_API_KEYS_FILE": str(keys),
            "SERVESPEC_LOG_PROMPTS": "true",
            "SERVESPEC_REQUEST_TIMEOUT_S": "2.5",
            "SERVESPEC_S3_ENDPOINT_URL": "",
            "OTHER": "ignored",
        }
    )
    assert settings.port == 9000 and settings.log_prompts is True
    assert settings.request_timeout_s == 2.5 and settings.s3_endpoint_url is None
    assert settings.load_api_keys() == ("key-a", "key-b", "key-c")


def test_overrides_win_over_the_environment() -> None:
    settings = Settings.from_env(
        {"SERVESPEC_ARTIFACT": "/a", "SERVESPEC_PORT": "1"}, port=2, host=None
    )
    assert settings.port == 2 and settings.host == "0.0.0.0"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "SERVESPEC_ARTIFACT is required"),
        ({"SERVESPEC_ARTIFACT": "/a", "SERVESPEC_PORT": "x"}, "SERVESPEC_PORT"),
        ({"SERVESPEC_ARTIFACT": "/a", "SERVESPEC_LOG_PROMPTS": "maybe"}, "not a boolean"),
        ({"SERVESPEC_ARTIFACT": "/a", "SERVESPEC_AUTH": "oauth"}, "SERVESPEC_AUTH"),
        ({"SERVESPEC_ARTIFACT": "/a", "SERVESPEC_MAX_CONCURRENT_REQUESTS": "0"}, "at least 1"),
    ],
)
def test_bad_values_are_reported_by_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


@pytest.mark.parametrize("example", ["assistant", "clinical-notes"])
def test_the_task_definition_sets_only_settings_the_runtime_reads(example: str) -> None:
    """Every SERVESPEC_* variable the compiled task sets is a setting, and parses."""
    from compiler.spec import load_spec
    from compiler.terraform.stack.compute import environment

    root = Path(__file__).resolve().parents[2]
    names = {f"SERVESPEC_{field.name.upper()}" for field in dataclasses.fields(Settings)}
    # runtime.capture and runtime.variants read their own variables.
    names |= {f"SERVESPEC_CAPTURE_{f.name.upper()}" for f in dataclasses.fields(CaptureSettings)}
    names |= {"SERVESPEC_VARIANT", "SERVESPEC_VARIANTS", "SERVESPEC_MODEL_VERSION"}
    names |= {"AWS_REGION", "AWS_DEFAULT_REGION"}  # boto3's region (container.environment)
    for spec in load_spec(root / "spec" / f"{example}.yaml").environments:
        env = {item["name"]: item["value"] for item in environment(spec, spec.model.version)}
        assert set(env) <= names
        assert VariantSettings.from_env(env).model_version == spec.model.version
        CaptureSettings.from_env(env)  # parses
        assert {"SERVESPEC_PREFIX_CACHE_MB", "SERVESPEC_PREFILL_CHUNK_TOKENS"} <= set(env)
        settings = Settings.from_env({**env, "SERVESPEC_API_KEYS": "k"})
        assert settings.prefix_cache_mb == spec.serving.prefix_cache_mb
        assert settings.prefill_chunk_tokens == spec.serving.prefill_chunk_tokens
        assert settings.max_output_tokens == spec.model.max_output_tokens
        assert settings.deterministic == spec.serving.deterministic
        assert settings.threads == spec.compute.cpu // 1024  # the task's vCPUs


@pytest.mark.parametrize(("cpu", "threads"), [(256, 1), (1024, 1), (4096, 4), (16384, 16)])
def test_the_task_gives_the_runtime_its_vcpus_as_threads(cpu: int, threads: int) -> None:
    """ECS caps the task at its `cpu` with a CFS quota the runtime's core count cannot see
    (a capacity-provider host shows all its cores): the task says how many threads fit."""
    from compiler.spec import load_spec
    from compiler.terraform.stack.compute import environment

    root = Path(__file__).resolve().parents[2]
    spec = load_spec(root / "spec" / "assistant.yaml").environments[0]
    spec = spec.model_copy(update={"compute": spec.compute.model_copy(update={"cpu": cpu})})
    env = {item["name"]: item["value"] for item in environment(spec, spec.model.version)}
    assert env["SERVESPEC_THREADS"] == str(threads)


def test_threads_never_exceed_the_cores_we_may_run_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """The task's vCPUs on a smaller machine (a rehearsal, `serve --spec` on a laptop) would
    only oversubscribe its cores."""
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1})
    assert Settings(artifact="a", threads=4).intra_op_threads == 2
    assert Settings(artifact="a", threads=1).intra_op_threads == 1
    assert Settings(artifact="a").intra_op_threads == 2


@pytest.mark.parametrize("example", ["assistant", "clinical-notes"])
def test_the_runtime_keeps_idle_connections_longer_than_the_load_balancer(example: str) -> None:
    """AWS: the target's keep-alive must exceed the ALB's idle timeout, or the ALB sends a
    request on a connection the target just closed and answers 502. The ALB's follows the
    request timeout (clinical-notes: 125 s); a fixed 65 s keep-alive fell short of it."""
    from compiler.spec import load_spec
    from compiler.terraform.plan import plan
    from compiler.terraform.stack import load_balancer
    from compiler.terraform.stack.compute import environment
    from runtime.server import uvicorn_config

    root = Path(__file__).resolve().parents[2]
    for spec in load_spec(root / "spec" / f"{example}.yaml").environments:
        [alb] = [b for b in load_balancer.blocks(plan(spec)) if b.labels == ("aws_lb", "main")]
        env = {item["name"]: item["value"] for item in environment(spec, spec.model.version)}
        settings = Settings.from_env({**env, "SERVESPEC_API_KEYS": "k"})
        config = uvicorn_config(object(), settings)  # type: ignore[arg-type]
        assert config.timeout_keep_alive > alb.attribute("idle_timeout")  # type: ignore[operator]
