"""`servespec diff-summary SPEC --base-ref REF`: what a change to a spec means, in words.

The pull-request workflow posts its output (with `--plan` counts) as the sticky plan comment;
the deploy workflow reads `--format json` to decide whether the model must be rebuilt.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import click

from compiler.spec import LoadedSpec, SpecError, load_spec

from .comment import PlanCounts, render_json, render_markdown

EXIT_REFUSED = 1
EXIT_INVALID = 2
# Old specs are read for comparison only: a waiver that has lapsed since must not stop that.
_ANY_DAY = dt.date.min


class BaseSpecError(Exception):
    """The spec cannot be read at the base ref (a bad ref, not a missing file)."""


def read_at_ref(spec: Path, ref: str) -> bytes | None:
    """The spec's bytes at `ref`, or None when the file did not exist there."""
    cwd = spec.parent
    if _git(cwd, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").returncode != 0:
        raise BaseSpecError(f"'{ref}' is not a commit in this repository")
    # `REF:./name` is resolved relative to the working directory, wherever the repo root is.
    shown = _git(cwd, "show", f"{ref}:./{spec.name}")
    if shown.returncode != 0:
        return None
    return shown.stdout


def _git(cwd: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False)


def load_base(spec: Path, ref: str) -> tuple[LoadedSpec | None, str | None]:
    """The spec as it was at `ref`, or (None, why) when there is nothing to compare with."""
    raw = read_at_ref(spec, ref)
    if raw is None:
        return None, f"{spec.name} does not exist at {ref[:12]}: a new deployment"
    with tempfile.TemporaryDirectory(prefix="servespec-base-") as tmp:
        path = Path(tmp) / spec.name
        path.write_bytes(raw)
        try:
            return load_spec(path, root=Path(tmp), today=_ANY_DAY), None
        except SpecError as exc:
            first = exc.problems[0].render() if exc.problems else str(exc)
            return None, f"the spec at {ref[:12]} does not load with this servespec ({first})"


def removals(before: LoadedSpec | None, after: LoadedSpec) -> list[str]:
    """What a merge would orphan: the old stack keeps running, unmanaged, with its state."""
    if before is None:
        return []
    problems = []
    old_name, new_name = before.spec.metadata.name, after.spec.metadata.name
    if old_name != new_name:
        problems.append(
            f"metadata.name: '{old_name}' renamed to '{new_name}': a new stack would be created "
            f"beside the live one. Migrate the state (terraform state mv, new backend key) or "
            f"destroy '{old_name}' first, then label the pull request servespec:migration"
        )
    for env in before.layers:
        if env not in after.layers:
            problems.append(
                f"environments.{env}: removed, but its stack and state stay live. Destroy it "
                f"first (terraform destroy in generated/{old_name}/{env}/terraform), then "
                "label the pull request servespec:migration"
            )
    return problems


def parse_plans(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> dict[str, PlanCounts | None]:
    """`ENV=JSON` per plan job; empty or unreadable JSON means that plan did not finish."""
    plans: dict[str, PlanCounts | None] = {}
    for value in values:
        env, sep, counts = value.partition("=")
        if not sep or not env:
            raise click.BadParameter(f"expected ENV=COUNTS, got {value!r}")
        plans[env] = PlanCounts.from_json(counts)
    return plans


@click.command("diff-summary")
@click.argument("spec", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--base-ref", required=True, help="Git ref to compare with (e.g. the PR base).")
@click.option(
    "--plan",
    "plans",
    multiple=True,
    callback=parse_plans,
    metavar="ENV=COUNTS",
    help='Plan counts of one environment as JSON ({"add":1,"change":0,"destroy":0}); '
    "empty when its plan did not finish. Adds a plan table.",
)
@click.option("--run-url", default=None, help="Link to the workflow run, shown in the summary.")
@click.option(
    "--refuse-removals",
    is_flag=True,
    help="Exit 1 when an environment was removed or the deployment renamed since BASE_REF: "
    "either orphans a live stack unless it is migrated on purpose.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["markdown", "json"]),
    default="markdown",
    show_default=True,
)
def diff_summary(
    spec: Path,
    base_ref: str,
    plans: dict[str, PlanCounts | None],
    run_url: str | None,
    refuse_removals: bool,
    fmt: str,
) -> None:
    """Describe in words what changed in SPEC since BASE_REF, per environment."""
    try:
        after = load_spec(spec)
        before, note = load_base(spec, base_ref)
    except SpecError as exc:
        click.echo(exc.render(), err=True)
        sys.exit(EXIT_INVALID)
    except BaseSpecError as exc:
        click.echo(f"servespec diff-summary: {exc}", err=True)
        sys.exit(EXIT_INVALID)
    if refuse_removals:
        problems = removals(before, after)
        for problem in problems:
            click.echo(f"{spec}: {problem}", err=True)
        if problems:
            sys.exit(EXIT_REFUSED)
        return
    if fmt == "json":
        click.echo(json.dumps(render_json(before, after), indent=2))
        return
    click.echo(render_markdown(before, after, base_ref, note, plans, run_url), nl=False)
