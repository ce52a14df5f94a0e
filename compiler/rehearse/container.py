"""Run the image as the task definition says: every field a task's life depends on maps to a
podman flag, and fields the rehearsal cannot honour fail loudly instead of being dropped.

What ECS itself adds is added here too, and only that: AWS_REGION/AWS_DEFAULT_REGION, task
role credentials (the emulator's fake ones) and, in place of the real endpoints, the
emulator's URL.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from dataclasses import dataclass
from typing import Any

from compiler.rehearse import image

HANDLED = {
    "name", "image", "essential", "user", "privileged", "readonlyRootFilesystem",
    "stopTimeout", "portMappings", "environment", "secrets", "mountPoints", "healthCheck",
    "logConfiguration", "ulimits", "resourceRequirements",
}  # fmt: skip


class DefinitionError(Exception):
    """The container definition asks for something the rehearsal cannot reproduce."""


@dataclass(frozen=True)
class Running:
    name: str
    port: int
    stop_timeout_s: int
    health_command: list[str]


def start(
    definition: dict[str, Any],
    tag: str,
    volumes: set[str],
    secret_values: dict[str, str],
    extra_env: dict[str, str],
) -> Running:
    """Start the container detached; `volumes` are the paths the image declares VOLUME."""
    unknown = sorted(set(definition) - HANDLED)
    if unknown:
        raise DefinitionError(f"container definition fields the rehearsal ignores: {unknown}")
    if definition.get("resourceRequirements"):
        raise DefinitionError("GPU resource requirements cannot be rehearsed on this machine")
    port = _port(definition)
    name = f"servespec-rehearse-{port}"
    subprocess.run([*image.podman(), "rm", "-f", name], capture_output=True, check=False)
    # Image VOLUMEs without a mount point stay part of the (read-only) root, as on Fargate.
    flags = ["--name", name, "--detach", "--network", "host", "--image-volume", "ignore"]
    flags += ["--user", str(definition.get("user", "0"))]
    if definition.get("readonlyRootFilesystem"):
        # podman would add writable tmpfs mounts at /tmp, /var/tmp and /run; ECS adds none.
        flags += ["--read-only", "--read-only-tmpfs=false"]
    if definition.get("privileged"):
        raise DefinitionError("privileged containers are never rehearsed (or deployed)")
    flags += _mounts(definition.get("mountPoints", []), volumes)
    stop_timeout = int(definition.get("stopTimeout", 30))
    flags += ["--stop-timeout", str(stop_timeout), *_ulimits(definition)]
    environment = {e["name"]: e["value"] for e in definition.get("environment", [])}
    for key, value in {**environment, **extra_env}.items():
        flags += ["--env", f"{key}={value}"]
    for secret in definition.get("secrets", []):
        flags += ["--env", secret["name"]]  # value from podman's environment, not argv
    health = definition.get("healthCheck", {}).get("command", [])
    run_env = {**os.environ, **secret_values}
    done = subprocess.run(
        [*image.podman(), "run", *flags, tag], capture_output=True, text=True, env=run_env
    )
    if done.returncode != 0:
        raise DefinitionError(f"podman run: {done.stderr.strip()[-800:]}")
    return Running(name, port, stop_timeout, health)


def _port(definition: dict[str, Any]) -> int:
    mappings = definition.get("portMappings", [])
    if len(mappings) != 1:
        raise DefinitionError(f"expected one port mapping, found {len(mappings)}")
    mapping = mappings[0]
    if mapping.get("hostPort", mapping["containerPort"]) != mapping["containerPort"]:
        raise DefinitionError("awsvpc needs hostPort == containerPort")
    port = int(mapping["containerPort"])
    with socket.socket() as sock:
        if sock.connect_ex(("127.0.0.1", port)) == 0:
            raise DefinitionError(f"port {port} (the task's containerPort) is in use here")
    return port


def _mounts(points: list[dict[str, Any]], declared: set[str]) -> list[str]:
    """Fargate bind mounts: a fresh directory, root-owned 0755, unless the image declares the
    path with VOLUME, in which case its content and owner are copied in (AWS's documented
    way to give a non-root user a writable path)."""
    flags = []
    for point in points:
        path, read_only = point["containerPath"], bool(point.get("readOnly", False))
        if path in declared:
            spec = f"type=volume,destination={path}"
        else:
            spec = f"type=tmpfs,destination={path},tmpfs-mode=0755"
        flags += ["--mount", spec + (",ro=true" if read_only else "")]
    return flags


def _ulimits(definition: dict[str, Any]) -> list[str]:
    limits = {u["name"]: u for u in definition.get("ulimits", [])}
    nofile = limits.get("nofile", {}).get("hardLimit", image.FARGATE_NOFILE)
    return image.ulimits(int(nofile))


def health_status(running: Running) -> tuple[int, str]:
    """Run the task definition's container health command inside the container, as ECS does."""
    if not running.health_command or running.health_command[0] != "CMD":
        raise DefinitionError(f"health check command must be CMD form: {running.health_command}")
    done = subprocess.run(
        [*image.podman(), "exec", running.name, *running.health_command[1:]],
        capture_output=True,
        text=True,
        timeout=30,
    )
    return done.returncode, (done.stdout + done.stderr).strip()[-300:]


def state(running: Running) -> dict[str, Any]:
    done = subprocess.run(
        [*image.podman(), "inspect", "--format", "{{json .State}}", running.name],
        capture_output=True,
        text=True,
    )
    loaded: dict[str, Any] = json.loads(done.stdout or "{}")
    return loaded


def logs(running: Running) -> str:
    done = subprocess.run(
        [*image.podman(), "logs", running.name], capture_output=True, text=True, check=False
    )
    return done.stdout + done.stderr


def remove(running: Running) -> None:
    subprocess.run([*image.podman(), "rm", "-f", running.name], capture_output=True)
