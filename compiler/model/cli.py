"""`servespec model build|push`: thin click layer over build.py and push.py.

Exit codes follow the main CLI: 0 success, 1 the pipeline refused or failed (a gate, a push
conflict, a failed step), 2 invalid input (spec errors, usage).
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any, Literal

import click

from compiler.model.errors import MissingExtraError, ModelPipelineError

BUILD_MODULES = (
    "torch",
    "transformers",
    "optimum.exporters.onnx",
    "onnx",
    "onnxruntime",
    "gguf",
    "peft",
    "numpy",
)
PUSH_MODULES = ("boto3",)
DEFAULT_CACHE = Path(".cache") / "servespec"
DEFAULT_HELDOUT = Path(__file__).resolve().parent / "data" / "heldout.txt"
GRAPH_OPTION = click.option(
    "--graph",
    type=click.Choice(["optimum", "fused"]),
    default=None,
    show_default="the spec's model.graph",
    help="optimum's export, or the fused GroupQueryAttention graph (right padding, faster).",
)
VARIANT_OPTION = click.option(
    "--variant",
    default=None,
    help="The artifact of this A/B variant (its version, and its source/adapter if set).",
)
INVARIANT_OPTION = click.option(
    "--batch-invariant",
    is_flag=True,
    help="int4 kernels whose rows never depend on the batch (fp32 activations, ~2x slower).",
)


@click.group()
def model() -> None:
    """Build the model artifact (ONNX, quantized, gated) and push it to S3."""


@model.command()
@click.argument("spec_path", metavar="SPEC", type=click.Path(exists=True, dir_okay=False))
@click.option("--env", "env", help="Environment to resolve (default: the only model in SPEC).")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also publish the artifact directory here (atomically).",
)
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=lambda: Path(os.environ.get("SERVESPEC_CACHE_DIR", DEFAULT_CACHE)),
    show_default="$SERVESPEC_CACHE_DIR or .cache/servespec",
)
@click.option(
    "--heldout",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=DEFAULT_HELDOUT,
    help="Held-out text for the perplexity gate.",
)
@click.option("--endpoint-url", help="S3 endpoint for s3:// sources (emulators).")
@GRAPH_OPTION
@INVARIANT_OPTION
@VARIANT_OPTION
def build(
    spec_path: str,
    env: str | None,
    out: Path | None,
    cache_dir: Path,
    heldout: Path,
    endpoint_url: str | None,
    graph: Literal["optimum", "fused"] | None,
    batch_invariant: bool,
    variant: str | None,
) -> None:
    """Build, verify and cache the model artifact of SPEC; prints its directory."""
    spec = _variant_spec(spec_path, env, variant) if variant else _model_spec(spec_path, env)
    _require(BUILD_MODULES)
    from compiler.model.build import BuildOptions, build_artifact

    graph = graph or spec.graph
    batch_invariant = batch_invariant or _deterministic(spec_path, env)
    options = BuildOptions(cache_dir, heldout, out, endpoint_url, graph, batch_invariant)
    result = _run(lambda: build_artifact(spec, options))
    click.echo(str(result.path))


@model.command()
@click.argument("spec_path", metavar="SPEC", type=click.Path(exists=True, dir_okay=False))
@click.option("--env", "env", required=True, help="Environment whose bucket and key to use.")
@click.argument("artifact", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--endpoint-url", help="AWS endpoint (moto_server, other emulators).")
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=lambda: Path(os.environ.get("SERVESPEC_CACHE_DIR", DEFAULT_CACHE)),
)
@click.option(
    "--heldout",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=DEFAULT_HELDOUT,
)
@GRAPH_OPTION
@INVARIANT_OPTION
@VARIANT_OPTION
def push(
    spec_path: str,
    env: str,
    artifact: Path | None,
    endpoint_url: str | None,
    cache_dir: Path,
    heldout: Path,
    graph: str | None,
    batch_invariant: bool,
    variant: str | None,
) -> None:
    """Upload ARTIFACT (default: the cached build of SPEC) to the environment's bucket."""
    resolved = _resolved(spec_path, env)
    m = _variant_spec(spec_path, env, variant) if variant else resolved.model
    _require(PUSH_MODULES)
    from compiler.model.push import push_artifact, resolve_target

    if artifact is None:
        graph = graph or m.graph
        batch_invariant = batch_invariant or resolved.serving.deterministic
        artifact = _cached_artifact(m, cache_dir, heldout, graph, batch_invariant)
    target = _run(
        lambda: resolve_target(
            resolved.metadata.name,
            resolved.environment,
            m.name,
            m.version,
            endpoint_url,
            resolved.region,
            resolved.account.id if resolved.account is not None else None,
        )
    )
    result = _run(
        lambda: push_artifact(artifact, target, m.name, m.version, endpoint_url, resolved.region)
    )
    click.echo(
        json.dumps(
            {
                "uri": f"s3://{target.bucket}/{target.prefix}",
                "uploaded": result.uploaded,
                "skipped": result.skipped,
            },
            indent=2,
        )
    )


def _cached_artifact(
    spec: Any, cache_dir: Path, heldout: Path, graph: str, batch_invariant: bool
) -> Path:
    """The artifact `model build` made for this spec, found by its build key (no rebuild)."""
    _require(BUILD_MODULES[-1:])
    from compiler.model.build import BuildOptions, artifact_path

    options = BuildOptions(cache_dir, heldout, graph=graph, batch_invariant=batch_invariant)  # type: ignore[arg-type]
    path: Path = _run(lambda: artifact_path(spec, options))
    if not (path / "manifest.json").is_file():
        raise click.ClickException(
            f"no built artifact at {path}: run `servespec model build` first or pass ARTIFACT"
        )
    return path


def _resolved(spec_path: str, env: str) -> Any:
    from compiler.spec import SpecError, load_resolved

    try:
        return load_resolved(spec_path, env)
    except SpecError as exc:
        click.echo(exc.render(), err=True)
        sys.exit(2)


def _variant_spec(spec_path: str, env: str | None, variant: str) -> Any:
    from compiler.loop.variant_model import UnknownVariant, variant_model

    if env is None:
        raise click.UsageError("--variant needs --env")
    try:
        return variant_model(_resolved(spec_path, env), variant)
    except UnknownVariant as exc:
        raise click.UsageError(str(exc)) from None


def _deterministic(spec_path: str, env: str | None) -> bool:
    """``serving.deterministic`` (any environment's, without --env): batch-invariant kernels."""
    from compiler.spec import load_spec

    environments = load_spec(Path(spec_path)).environments
    return any(s.serving.deterministic for s in environments if env in (None, s.environment))


def _model_spec(spec_path: str, env: str | None) -> Any:
    """The ModelSpec of one environment, or of all of them when they agree."""
    if env is not None:
        return _resolved(spec_path, env).model
    from compiler.spec import SpecError, load_spec

    try:
        models = {s.environment: s.model for s in load_spec(Path(spec_path)).environments}
    except SpecError as exc:
        click.echo(exc.render(), err=True)
        sys.exit(2)
    if len({m.model_dump_json() for m in models.values()}) > 1:
        raise click.UsageError(f"environments {', '.join(models)} use different models: pass --env")
    return next(iter(models.values()))


def _require(modules: tuple[str, ...]) -> None:
    """Say which extra to install instead of failing later with a traceback."""
    for name in modules:
        try:
            found = importlib.util.find_spec(name)
        except ModuleNotFoundError:
            found = None
        if found is None:
            click.echo(f"error: {MissingExtraError(name)}", err=True)
            sys.exit(1)


def _run(action: Any) -> Any:
    try:
        return action()
    except ModelPipelineError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


def _register_loop_commands() -> None:
    # The learning loop's model commands live with the loop; they join the model group here.
    from compiler.loop.finetune_cli import finetune
    from compiler.loop.variants_cli import variants

    model.add_command(finetune)
    model.add_command(variants)


_register_loop_commands()


if __name__ == "__main__":
    model()
