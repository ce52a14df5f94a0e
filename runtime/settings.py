"""Typed settings, read once from ``SERVESPEC_*`` environment variables.

The image and ``servespec serve`` both build a ``Settings`` from the same variables, so a local
run behaves like the deployed task.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runtime.auth import KeyEntry

PREFIX = "SERVESPEC_"


class SettingsError(ValueError):
    """A ``SERVESPEC_*`` variable has a value we cannot use."""


@dataclasses.dataclass(frozen=True)
class Settings:
    artifact: str
    host: str = "0.0.0.0"  # the container must listen on all interfaces
    port: int = 8080
    api_keys: tuple[str, ...] = dataclasses.field(default=(), repr=False)  # never in logs
    api_keys_file: Path | None = None
    api_keys_secret: str | None = None  # Secrets Manager secret read through the task role
    api_keys_reload_s: float = 60.0  # how often the file and the secret are re-read
    auth: str = "api_key"  # "api_key" or "none" (local development only)
    max_concurrent_requests: int = 16
    max_queue: int = 8
    request_timeout_s: float = 60.0
    rate_limit_per_key_rpm: int = 600
    failed_auth_per_minute: int = 10  # per client address; past it, 429 until it refills
    max_body_bytes: int = 1_000_000
    max_tokens_default: int = 256
    max_output_tokens: int = 0  # the spec's model.max_output_tokens; 0: only the context bounds
    # The task's hard memory limit (compute.memory_mib): the batch holds only the rows whose
    # KV fits in it (runtime/memory.py), so load cannot get the task OOM-killed. 0: no limit.
    memory_mib: int = 0
    prefix_cache_mb: int = 64  # KV of recent prompts reused by prompts that start alike; 0: off
    # Longer prompts are prefilled this many tokens per step while the others keep decoding
    # (~0.4 s of prefill on 2 cores); 0: every prompt in one go.
    prefill_chunk_tokens: int = 256
    log_prompts: bool = False
    # serving.deterministic: only a batch-invariant artifact may serve (accuracy level 0).
    deterministic: bool = False
    shutdown_grace_s: float = 30.0
    header_timeout_s: float = 10.0  # a request's head must arrive within this from its first byte
    # Idle connections stay open this long: longer than the load balancer's idle timeout (60 s
    # by default; the task sets its ALB's + 5), or it reuses a connection we closed (502s).
    keep_alive_s: int = 65
    max_connections: int = 1024  # open connections beyond this are closed at once
    # /metrics lives on this port only, without a key (the load balancer forwards only
    # ``port``, so only the task's own network reaches it); 0: on ``port``, behind a key.
    metrics_port: int = 9464
    # At most this many ONNX Runtime threads (the task sets its vCPUs: ECS's CPU quota is
    # invisible to the core count); never more than the cores we may run on. 0: one per core.
    threads: int = 0
    served_model_name: str = ""  # empty: the manifest's model name
    metrics_namespace: str = "servespec"
    # How often the queue depth goes out as EMF, busy or idle: a target-tracking alarm with
    # no data points cannot scale in, so the scaling signal must not depend on traffic.
    load_report_s: float = 10.0
    s3_endpoint_url: str | None = None
    cache_dir: Path = Path("/tmp/servespec-artifact")  # scratch space for s3://
    log_level: str = "INFO"

    def __post_init__(self) -> None:
        if self.auth not in ("api_key", "none"):
            raise SettingsError(f"{PREFIX}AUTH must be 'api_key' or 'none', not {self.auth!r}")
        positive = ("max_concurrent_requests", "rate_limit_per_key_rpm", "max_body_bytes")
        for name in (*positive, "max_connections", "failed_auth_per_minute", "keep_alive_s"):
            if getattr(self, name) < 1:
                raise SettingsError(f"{PREFIX}{name.upper()} must be at least 1")
        counts = (
            "max_queue",
            "threads",
            "prefix_cache_mb",
            "memory_mib",
            "prefill_chunk_tokens",
            "max_output_tokens",
            "metrics_port",
        )
        for name in counts:
            if getattr(self, name) < 0:
                raise SettingsError(f"{PREFIX}{name.upper()} must not be negative")
        if self.header_timeout_s <= 0:
            raise SettingsError(f"{PREFIX}HEADER_TIMEOUT_S must be positive")
        if self.load_report_s <= 0:
            raise SettingsError(f"{PREFIX}LOAD_REPORT_S must be positive")
        if self.api_keys_reload_s <= 0:
            raise SettingsError(f"{PREFIX}API_KEYS_RELOAD_S must be positive")
        if self.request_timeout_s <= 0 or self.shutdown_grace_s < 0:
            raise SettingsError(f"{PREFIX}REQUEST_TIMEOUT_S must be positive")

    @property
    def intra_op_threads(self) -> int:
        cores = len(os.sched_getaffinity(0))
        return min(self.threads, cores) if self.threads else cores

    def load_api_keys(self) -> tuple[KeyEntry, ...]:
        """Keys from the variable, the file (one per line, ``#`` comments) and the secret."""
        from runtime.auth import key_sources

        sources = key_sources(self.api_keys, self.api_keys_file, self.api_keys_secret, None)
        return sources()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Build from ``env`` (default ``os.environ``); ``overrides`` win (CLI options)."""
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        for field in dataclasses.fields(cls):
            raw = env.get(PREFIX + field.name.upper())
            if raw is not None:
                values[field.name] = _parse(field.name, str(field.type), raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        if "artifact" not in values:
            raise SettingsError(f"{PREFIX}ARTIFACT is required (a directory or s3:// URI)")
        return cls(**values)  # type: ignore[arg-type]


def _parse(name: str, type_name: str, raw: str) -> object:
    try:
        if type_name == "int":
            return int(raw)
        if type_name == "float":
            return float(raw)
        if type_name == "bool":
            return _parse_bool(raw)
    except ValueError as exc:
        raise SettingsError(f"{PREFIX}{name.upper()}: {exc}") from None
    if type_name.startswith("tuple") and raw.lstrip().startswith("{"):
        from runtime.auth import parse_keys  # the API-key secret's JSON, injected as a variable

        try:
            return parse_keys(raw)
        except ValueError as exc:
            raise SettingsError(f"{PREFIX}{name.upper()}: {exc}") from None
    if type_name.startswith("tuple"):
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    if type_name.startswith("Path"):
        return Path(raw) if raw else None
    if type_name.startswith("str |"):
        return raw or None
    return raw


def _parse_bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"not a boolean: {raw!r}")
