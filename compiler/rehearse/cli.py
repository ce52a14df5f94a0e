"""`servespec rehearse SPEC --env ENV`: exit 0 only when every step was seen to pass."""

from __future__ import annotations

from pathlib import Path

import click

from compiler.rehearse.image import PodmanUnavailable, check_tools
from compiler.rehearse.steps import StepFailed

EXIT_FAILED, EXIT_UNAVAILABLE = 1, 2


@click.command("rehearse")
@click.argument("spec_path", metavar="SPEC", type=click.Path(exists=True, dir_okay=False))
@click.option("--env", "env", required=True, help="Environment to rehearse.")
def rehearse(spec_path: str, env: str) -> None:
    """Build the image, emulate the account, run the task as its definition says, probe it
    like the load balancer, smoke-test it and stop it like ECS."""
    from compiler.rehearse.run import rehearse as run

    try:
        check_tools()
    except PodmanUnavailable as exc:
        click.echo(f"rehearse cannot run here: {exc}", err=True)
        raise SystemExit(EXIT_UNAVAILABLE) from None
    try:
        steps = run(spec_path, env, Path("."))
    except StepFailed as exc:
        click.echo(f"rehearse FAILED: {exc}", err=True)
        raise SystemExit(EXIT_FAILED) from None
    click.echo(f"rehearsal of {spec_path} --env {env} passed:\n{steps.table()}")
