"""`servespec release`: what the deploy workflow decides from AWS, not from a git diff.

`status` says whether the environment already holds the release's image (ECR tag) and each
model artifact it serves (every A/B variant's `models/<name>/<version>/manifest.json`,
written last by `model push`): the deploy builds
and pushes only what is missing, so a first deploy builds everything and a re-run of a
deployed commit builds nothing. `running` checks that every ECS service runs the task
definition the reviewed plan applied (ECS's own rollback would leave the old one) before the
smoke test trusts the API. boto3 takes an endpoint URL so tests use moto_server.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from botocore.exceptions import ClientError

from compiler.model.naming import model_prefix, models_bucket_name
from compiler.model.s3 import client
from compiler.spec import ResolvedSpec, SpecError, load_spec

from .artifacts import artifacts

EXIT_FAILED = 1
EXIT_INVALID = 2
_MISSING = {"404", "NoSuchKey", "NoSuchBucket", "NotFound"}
_NO_IMAGE = {"ImageNotFoundException", "RepositoryNotFoundException"}


@dataclass(frozen=True)
class Status:
    image_present: bool
    models: dict[str, bool]  # presence output key -> present (see artifacts.presence_keys)

    @property
    def model_present(self) -> bool:
        return all(self.models.values())

    def lines(self) -> list[str]:
        """`key=value` lines for $GITHUB_OUTPUT: the aggregate, then one per variant."""
        found = {"image_present": self.image_present, "model_present": self.model_present}
        found.update(self.models)
        return [f"{key}={str(value).lower()}" for key, value in found.items()]


def image_present(spec: ResolvedSpec, tag: str, endpoint_url: str | None) -> bool:
    ecr = client("ecr", endpoint_url, spec.region)
    repository = f"{spec.metadata.name}-{spec.environment}"
    try:
        ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])
    except ClientError as exc:
        if exc.response["Error"]["Code"] in _NO_IMAGE:
            return False
        raise
    return True


def models_present(spec: ResolvedSpec, endpoint_url: str | None) -> dict[str, bool]:
    """Per artifact the deploy needs (each A/B variant's, or the model), whether its
    manifest.json is in the bucket; keyed `model_present_<variant>` (or `model_present`)."""
    account = client("sts", endpoint_url, spec.region).get_caller_identity()["Account"]
    bucket = models_bucket_name(spec.metadata.name, spec.environment, account)
    s3 = client("s3", endpoint_url, spec.region)
    return {
        f"model_present{artifact.suffix}": _exists(
            s3, bucket, model_prefix(spec.model.name, artifact.version) + "manifest.json"
        )
        for artifact in artifacts(spec)
    }


def _exists(s3: Any, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response["Error"]["Code"] in _MISSING:
            return False
        raise
    return True


def status(spec: ResolvedSpec, tag: str, endpoint_url: str | None) -> Status:
    return Status(image_present(spec, tag, endpoint_url), models_present(spec, endpoint_url))


def running_problems(ecs: Any, cluster: str, services: list[str], applied: set[str]) -> list[str]:
    """Why the services do not (yet) run exactly the applied task definitions; [] when they do."""
    found = ecs.describe_services(cluster=cluster, services=services)
    problems = [f"{f['arn']}: {f['reason']}" for f in found.get("failures", [])]
    for service in found.get("services", []):
        name, current = service["serviceName"], service["taskDefinition"]
        if current not in applied:
            problems.append(
                f"{name} runs {current}, not the applied task definition "
                "(ECS rolled back, or something else changed the service)"
            )
        primary = [d for d in service.get("deployments", []) if d.get("status") == "PRIMARY"]
        if primary and primary[0].get("taskDefinition") != current:
            problems.append(f"{name}: the primary deployment is not {current}")
    return problems


def _spec_env(path: Path, env: str) -> ResolvedSpec:
    try:
        loaded = load_spec(path)
    except SpecError as exc:
        click.echo(exc.render(), err=True)
        sys.exit(EXIT_INVALID)
    for spec in loaded.environments:
        if spec.environment == env:
            return spec
    click.echo(f"{path}: no environment {env!r} (has {', '.join(loaded.layers)})", err=True)
    sys.exit(EXIT_INVALID)


@click.group("release")
def release() -> None:
    """What a deploy must build, push and verify, read from AWS."""


@release.command("status")
@click.argument("spec", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--env", "env", required=True)
@click.option("--image-tag", required=True, help="The release's immutable image tag.")
@click.option("--endpoint-url", default=None, help="AWS endpoint (tests: moto_server).")
def status_command(spec: Path, env: str, image_tag: str, endpoint_url: str | None) -> None:
    """Print image_present=… and model_present=… for ENV (GITHUB_OUTPUT lines)."""
    found = status(_spec_env(spec, env), image_tag, endpoint_url)
    click.echo("\n".join(found.lines()))


@release.command("running")
@click.option("--cluster", required=True)
@click.option("--service", "services", multiple=True, required=True)
@click.option("--task-definition", "applied", multiple=True, required=True)
@click.option("--region", default=None)
@click.option("--endpoint-url", default=None, help="AWS endpoint (tests: moto_server).")
def running_command(
    cluster: str,
    services: tuple[str, ...],
    applied: tuple[str, ...],
    region: str | None,
    endpoint_url: str | None,
) -> None:
    """Exit 1 unless every SERVICE runs one of the applied task definitions."""
    ecs = client("ecs", endpoint_url, region)
    problems = running_problems(ecs, cluster, list(services), set(applied))
    for problem in problems:
        click.echo(f"servespec release running: {problem}", err=True)
    if problems:
        sys.exit(EXIT_FAILED)
    click.echo(f"{len(services)} service(s) run the applied task definitions")
