"""Read what a deploy would do from the committed Terraform, not from the spec.

The rehearsal runs the container as the generated task definition says and probes it as the
generated target group does, so that drift between the image and the Terraform fails here.
Names (bucket, secret, key alias) come from the same files, with `local.*` and the account id
resolved as Terraform would; nothing is retyped.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pygohcl

INTERPOLATION = re.compile(r"\$\{([^}]+)\}")


class TerraformError(Exception):
    """The generated Terraform lacks something the rehearsal needs."""


@dataclasses.dataclass(frozen=True)
class HealthCheck:
    path: str
    port: int
    matcher: str
    interval_s: int
    timeout_s: int
    healthy_threshold: int
    unhealthy_threshold: int


@dataclasses.dataclass(frozen=True)
class Deploy:
    """The parts of one environment's Terraform that a task's life depends on."""

    container: dict[str, Any]  # the container definition, references still unresolved
    volumes: tuple[str, ...]
    health: HealthCheck
    grace_period_s: int
    deregistration_delay_s: int
    locals: dict[str, str]
    variables: dict[str, str]  # `var.*` the deploy workflow passes (the image tag)
    secret_name: str | None
    bucket: str
    key_alias: str

    def resolve(self, value: Any, refs: dict[str, str]) -> Any:
        """`value` with every `${...}` and bare reference replaced (recursively)."""
        if isinstance(value, dict):
            return {key: self.resolve(item, refs) for key, item in value.items()}
        if isinstance(value, list):
            return [self.resolve(item, refs) for item in value]
        if not isinstance(value, str):
            return value
        names = {
            **{f"local.{k}": v for k, v in self.locals.items()},
            **{f"var.{k}": v for k, v in self.variables.items()},
            **refs,
        }
        if value in names:
            return names[value]
        return INTERPOLATION.sub(lambda m: str(_lookup(names, m.group(1))), value)


def _lookup(names: dict[str, str], ref: str) -> str:
    if ref not in names:
        raise TerraformError(f"the rehearsal cannot resolve ${{{ref}}}")
    return names[ref]


def read(directory: Path, account_id: str, image: str) -> Deploy:
    """Parse `directory` (generated/<app>/<env>/terraform) into a Deploy."""
    files = {name: _load(directory / f"{name}.tf") for name in ("locals", "compute", "storage")}
    lb = _load(directory / "load_balancer.tf")
    raw_locals = files["locals"]["locals"]
    known = {"account_id": account_id}
    locals_ = _resolve_locals(raw_locals, known)
    compute = files["compute"]["resource"]
    task = compute["aws_ecs_task_definition"]
    label = "runtime" if "runtime" in task else sorted(task)[0]
    containers = _container_definitions(directory / "compute.tf", label)
    service = compute["aws_ecs_service"][label]
    group = lb["resource"]["aws_lb_target_group"][label]
    hc = group["health_check"]
    volume = task[label].get("volume", [])
    volumes = volume if isinstance(volume, list) else [volume]
    secrets = _load(directory / "secrets.tf") if (directory / "secrets.tf").exists() else {}
    secret = secrets.get("resource", {}).get("aws_secretsmanager_secret", {}).get("api_keys")
    kms = _load(directory / "kms.tf")["resource"]["aws_kms_alias"]["main"]
    deploy = Deploy(
        container=containers[0],
        volumes=tuple(v["name"] for v in volumes),
        health=HealthCheck(
            path=hc["path"],
            port=int(group["port"]) if hc.get("port", "traffic-port") == "traffic-port" else 0,
            matcher=str(hc["matcher"]),
            interval_s=int(hc["interval"]),
            timeout_s=int(hc["timeout"]),
            healthy_threshold=int(hc["healthy_threshold"]),
            unhealthy_threshold=int(hc["unhealthy_threshold"]),
        ),
        grace_period_s=int(service.get("health_check_grace_period_seconds", 0)),
        deregistration_delay_s=int(group.get("deregistration_delay", 300)),
        locals=locals_,
        variables={"image_tag": image.rsplit(":", 1)[-1]},
        secret_name=None,
        bucket="",
        key_alias="",
    )
    _check_image(deploy, _load(directory / "registry.tf"), account_id)
    bucket = files["storage"]["resource"]["aws_s3_bucket"]["models"]["bucket"]
    return dataclasses.replace(
        deploy,
        secret_name=deploy.resolve(secret["name"], {}) if secret else None,
        bucket=deploy.resolve(bucket, {}),
        key_alias=deploy.resolve(kms["name"], {}),
    )


def _check_image(deploy: Deploy, registry: dict[str, Any], account_id: str) -> None:
    """The task pulls the image the pipeline pushes: the stack's ECR repository, in the
    account, with the tag the deploy passes (the rehearsal then runs its local build)."""
    repository = deploy.resolve(registry["resource"]["aws_ecr_repository"]["runtime"]["name"], {})
    named = str(deploy.resolve(deploy.container["image"], {}))
    tag = deploy.variables["image_tag"]
    if not (named.startswith(f"{account_id}.dkr.ecr.") and named.endswith(f"/{repository}:{tag}")):
        raise TerraformError(
            f"the task definition's image {named!r} is not the stack's ECR repository "
            f"{repository!r} with the deployed tag"
        )


def _load(path: Path) -> dict[str, Any]:
    try:
        loaded: dict[str, Any] = pygohcl.loads(path.read_text(), keep_interpolations=True)
    except (OSError, pygohcl.HCLParseError) as exc:
        raise TerraformError(f"{path}: {exc}") from None
    return loaded


def _resolve_locals(raw: dict[str, Any], known: dict[str, str]) -> dict[str, str]:
    """String locals with their `${local.*}` references substituted, in dependency order."""
    found = dict(known)
    pending = {k: v for k, v in raw.items() if isinstance(v, str) and k not in found}
    for _ in range(len(pending) + 1):
        for key, value in list(pending.items()):
            refs = INTERPOLATION.findall(value)
            if all(r.startswith("local.") and r[6:] in found for r in refs):
                found[key] = INTERPOLATION.sub(lambda m: found[m.group(1)[6:]], value)
                del pending[key]
    return found


def _container_definitions(path: Path, label: str) -> list[dict[str, Any]]:
    """The argument of `jsonencode(...)` in the task definition, parsed as HCL.

    pygohcl hands a function call back as flattened text, so the call's argument is cut from
    the source (bracket-matched) and parsed on its own.
    """
    source = path.read_text()
    start = source.index(f'resource "aws_ecs_task_definition" "{label}"')
    marker = "container_definitions = jsonencode("
    begin = source.index(marker, start) + len(marker)
    depth, end = 1, begin
    while depth:
        depth += source[end] in "([{"
        depth -= source[end] in ")]}"
        end += 1
    parsed = pygohcl.loads("v = " + source[begin : end - 1], keep_interpolations=True)
    definitions: list[dict[str, Any]] = parsed["v"]
    return definitions
