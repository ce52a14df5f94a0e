"""`servespec model variants SPEC --env ENV`: the artifacts an environment's deploy needs.

Prints JSON (a workflow matrix): one entry per A/B variant with its name and model version,
or the model itself when the spec has no variants. The deploy builds and pushes each one
(`servespec model build|push SPEC --env ENV --variant NAME`) before Terraform starts the
variants' services.
"""

from __future__ import annotations

import json

import click


@click.command("variants")
@click.argument("spec_path", metavar="SPEC", type=click.Path(exists=True, dir_okay=False))
@click.option("--env", "env", required=True)
def variants(spec_path: str, env: str) -> None:
    """List the model artifacts (variant, version) ENV's deploy must build and push."""
    from compiler.loop.variant_model import variants_plan
    from compiler.model.cli import _resolved

    spec = _resolved(spec_path, env)
    plan = variants_plan(spec) or [
        {"name": "", "model_version": spec.model.version, "weight": "100"}
    ]
    click.echo(json.dumps(plan))
