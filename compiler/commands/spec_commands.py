"""Commands about specs themselves: validate, explain, schema, init."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import jinja2

from ..cli import EXIT_INVALID, default_specs
from ..fsutil import write_atomic
from ..spec import SpecError, load_spec
from ..spec.explain import explain as explain_layer
from ..spec.schema import reference_markdown, schema_text

SCHEMA_PATH = Path("spec/servespec.schema.json")
REFERENCE_PATH = Path("docs/spec-reference.md")


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
def validate(paths: tuple[Path, ...]) -> None:
    """Validate spec files (default: spec/). Exit 0 valid, 2 invalid, 1 internal error."""
    specs = default_specs(paths)
    if not specs:
        raise click.UsageError("no spec files found (looked for spec/*.yaml)")
    failed = False
    for path in specs:
        try:
            loaded = load_spec(path)
        except SpecError as exc:
            click.echo(exc.render(), err=True)
            failed = True
            continue
        click.echo(f"{loaded.path}: ok ({', '.join(loaded.layers)})")
    if failed:
        sys.exit(EXIT_INVALID)


@click.command()
@click.argument("spec", type=click.Path(path_type=Path))
@click.option("--env", "environment", required=True, help="Environment to resolve.")
def explain(spec: Path, environment: str) -> None:
    """Print ENV of SPEC fully resolved, marking which layer set each value."""
    try:
        loaded = load_spec(spec)
        loaded.resolve(environment)
    except SpecError as exc:
        click.echo(exc.render(), err=True)
        sys.exit(EXIT_INVALID)
    click.echo(explain_layer(loaded.layers[environment]), nl=False)


@click.command()
@click.option("--write", is_flag=True, help=f"Write {SCHEMA_PATH} and {REFERENCE_PATH}.")
def schema(write: bool) -> None:
    """Print the spec's JSON Schema (or --write it and the reference page)."""
    if not write:
        click.echo(schema_text(), nl=False)
        return
    write_atomic(SCHEMA_PATH, schema_text())
    write_atomic(REFERENCE_PATH, reference_markdown())
    click.echo(f"wrote {SCHEMA_PATH} and {REFERENCE_PATH}")


@click.command()
@click.argument("path", type=click.Path(path_type=Path), default=Path("spec/deployment.yaml"))
@click.option("--name", default="assistant", show_default=True, help="Deployment name.")
@click.option("--owner", default="ml-platform", show_default=True)
@click.option("--repository", default="my-org/my-repo", show_default=True, help="GitHub org/repo.")
@click.option("--region", default="eu-west-1", show_default=True)
def init(path: Path, name: str, owner: str, repository: str, region: str) -> None:
    """Write a commented starter spec to PATH (never overwrites)."""
    if path.exists():
        raise click.UsageError(f"{path} exists; choose another path")
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("compiler.spec", "templates"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    schema_ref = Path(_relative(SCHEMA_PATH, path.parent)).as_posix()
    text = environment.get_template("starter.yaml.jinja").render(
        name=name,
        owner=owner,
        repository=repository,
        region=region,
        version="0.1.0",
        schema_ref=schema_ref,
    )
    write_atomic(path, text)
    try:
        load_spec(path)
    except SpecError as exc:  # the options made it invalid: say so, keep the file to edit
        click.echo(exc.render(), err=True)
        sys.exit(EXIT_INVALID)
    click.echo(f"wrote {path}; next: servespec validate {path}")


def _relative(target: Path, start: Path) -> str:
    import os

    return os.path.relpath(target, start)
