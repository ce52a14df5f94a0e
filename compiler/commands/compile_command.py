"""`servespec compile`: specs -> generated/ and workflows, or `--check` that they are fresh."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from .. import codeowners
from .. import compile as compiler
from ..artifacts import Artifact
from ..cli import EXIT_FOUND, EXIT_INVALID, default_specs
from ..fsutil import write_atomic
from ..spec import LoadedSpec, SpecError, load_spec


@click.command("compile")
@click.argument("specs", nargs=-1, type=click.Path(path_type=Path))
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if generated output is stale.")
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Repository root that generated/ and .github/ live in.",
)
def compile_command(specs: tuple[Path, ...], check: bool, root: Path) -> None:
    """Compile SPECS (default: spec/*.yaml) into generated/ and .github/workflows/."""
    started = time.perf_counter()
    loaded = _load_all(default_specs(specs))
    rendered = {spec.spec.metadata.name: compiler.render(spec) for spec in loaded}
    if not specs:
        # Account roots gather every spec's environments: only a whole compile renders them.
        rendered[compiler.ACCOUNTS] = compiler.render_accounts(loaded)
    orphans = [] if specs else _orphans(root, set(rendered))
    # CODEOWNERS spans every deployment: only a compile of all specs writes or checks it.
    owners = None if specs else codeowners.render(loaded)
    if check:
        _check(root, rendered, orphans, owners)
        return
    if owners is not None:
        write_atomic(root / owners.path, owners.content)
    for name, artifacts in rendered.items():
        compiler.write(root, name, artifacts)
    for orphan in orphans:
        compiler.remove_deployment(root, orphan)
    files = sum(len(artifacts) for artifacts in rendered.values())
    elapsed = time.perf_counter() - started
    deployments = len(set(rendered) - {compiler.ACCOUNTS})
    click.echo(f"compiled {deployments} deployment(s), {files} files in {elapsed:.2f}s")


def _load_all(paths: list[Path]) -> list[LoadedSpec]:
    """Load every spec before rendering any, so one bad file stops all writes."""
    loaded, problems = [], []
    for path in paths:
        try:
            loaded.append(load_spec(path))
        except SpecError as exc:
            problems.append(exc.render())
    names = [spec.spec.metadata.name for spec in loaded]
    for spec in loaded:
        if spec.spec.metadata.name == compiler.ACCOUNTS:
            problems.append(
                f"{spec.path}:1:1: metadata.name: '{compiler.ACCOUNTS}' is reserved "
                "(generated/accounts/ holds the account roots)"
            )
        if names.count(spec.spec.metadata.name) > 1:
            problems.append(
                f"{spec.path}:1:1: metadata.name: '{spec.spec.metadata.name}' "
                "is used by another spec"
            )
    if not paths:
        problems.append("no spec files found (looked for spec/*.yaml)")
    if problems:
        click.echo("\n".join(problems), err=True)
        click.echo("nothing was written", err=True)
        sys.exit(EXIT_INVALID)
    return loaded


def _orphans(root: Path, names: set[str]) -> list[str]:
    generated = root / compiler.GENERATED
    if not generated.is_dir():
        return []
    return sorted(
        p.name
        for p in generated.iterdir()
        if p.is_dir() and not p.name.startswith(".") and p.name not in names
    )


def _check(
    root: Path,
    rendered: dict[str, list[Artifact]],
    orphans: list[str],
    owners: Artifact | None,
) -> None:
    findings = [f for name, arts in rendered.items() for f in compiler.check(root, name, arts)]
    if owners is not None:
        path = root / owners.path
        if not path.is_file() or path.read_text(encoding="utf-8") != owners.content:
            findings.append(compiler.Finding(owners.path, "stale"))
    for orphan in orphans:
        findings += [
            compiler.Finding(path, "extra") for path in sorted(compiler.owned_files(root, orphan))
        ]
    for finding in findings:
        click.echo(finding.render(), err=True)
    if findings:
        click.echo(
            f"{len(findings)} generated file(s) are not what the compiler produces", err=True
        )
        sys.exit(EXIT_FOUND)
    deployments = len(set(rendered) - {compiler.ACCOUNTS})
    click.echo(f"generated output is fresh ({deployments} deployment(s))")
