"""Where one environment's API keys live: the secret the generated Terraform creates.

The name is read from the committed Terraform (`secrets.tf`, with `local.name` resolved), so
the keys commands, the smoke test and the rehearsal can never disagree with the stack.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from compiler import compile as compiler
from compiler.rehearse import terraform


def environment(spec_path: str, env: str) -> Any:
    from compiler.spec import SpecError, load_resolved

    try:
        return load_resolved(spec_path, env)
    except SpecError as exc:
        click.echo(exc.render(), err=True)
        raise SystemExit(2) from None


def terraform_dir(spec: Any, root: Path = Path(".")) -> Path:
    directory: Path = root / compiler.GENERATED / spec.metadata.name / spec.environment
    return directory / "terraform"


def secret_name(spec: Any, root: Path = Path(".")) -> str:
    directory = terraform_dir(spec, root)
    if not directory.is_dir():
        raise click.ClickException(f"{directory} does not exist: run `servespec compile` first")
    deploy = terraform.read(directory, account_id="000000000000", image="unused")
    if deploy.secret_name is None:
        raise click.ClickException(
            f"{spec.metadata.name}/{spec.environment} has no API-key secret (serving.auth none)"
        )
    return deploy.secret_name


def secrets_client(spec: Any, endpoint_url: str | None) -> Any:
    from compiler.model.s3 import client

    return client("secretsmanager", endpoint_url, spec.region)
