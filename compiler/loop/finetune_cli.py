"""`servespec model finetune`: the click layer over finetune.py (registered in model/cli.py)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from compiler.loop.finetune import Example, Options

DEFAULT_CACHE = Path(".cache") / "servespec"


@click.command("finetune")
@click.argument("spec_path", metavar="SPEC", type=click.Path(exists=True, dir_okay=False))
@click.option("--data", required=True,
              help="Chat examples (JSONL), capture records, or s3:// capture.")  # fmt: skip
@click.option("--endpoint-url", default=None, help="S3 endpoint for s3:// data (emulators).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Adapter directory to write (then set model.adapter.path to it).")  # fmt: skip
@click.option("--env", "env", default=None, help="Environment (default: the only model).")
@click.option("--steps", type=click.IntRange(1, 100_000), default=60, show_default=True)
@click.option("--learning-rate", type=click.FloatRange(min=0, min_open=True), default=1e-3,
              show_default=True)  # fmt: skip
@click.option("--rank", type=click.IntRange(1, 256), default=8, show_default=True)
@click.option("--qlora", is_flag=True, help="4-bit base (bitsandbytes; CUDA GPUs only).")
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=lambda: Path(os.environ.get("SERVESPEC_CACHE_DIR", DEFAULT_CACHE)),
)
def finetune(
    spec_path: str,
    data: str,
    endpoint_url: str | None,
    out: Path,
    env: str | None,
    steps: int,
    learning_rate: float,
    rank: int,
    qlora: bool,
    cache_dir: Path,
) -> None:
    """Train a LoRA adapter for SPEC's model on chat examples; prints a JSON summary."""
    from compiler.loop.finetune import FinetuneError, Options, load_capture, load_examples
    from compiler.model.cli import BUILD_MODULES, _model_spec, _require

    if qlora:
        click.echo(
            "error: --qlora needs bitsandbytes' 4-bit kernels, which run on CUDA GPUs only; "
            "on CPU servespec trains LoRA on the fp32 base (drop --qlora)",
            err=True,
        )
        sys.exit(2)
    spec = _model_spec(spec_path, env)
    _require(BUILD_MODULES)
    try:
        if data.startswith("s3://"):
            examples = load_capture(data, endpoint_url)
        elif not Path(data).is_file():
            raise FinetuneError(f"{data}: no such file")
        else:
            examples = load_examples(Path(data))
    except FinetuneError as exc:
        raise click.UsageError(str(exc)) from None
    options = Options(steps=steps, learning_rate=learning_rate, rank=rank, alpha=2 * rank)
    click.echo(json.dumps(_run(spec, cache_dir, examples, options, out), indent=2))


def _run(
    spec: Any, cache: Path, examples: list[Example], options: Options, out: Path
) -> dict[str, Any]:
    from compiler.loop import finetune as ft
    from compiler.model.artifact import staging
    from compiler.model.loader import load_hf_dir
    from compiler.model.source import resolve_source
    from compiler.model.stages import SourceInputs, hf_stage

    started = ft.now()
    inputs = SourceInputs(resolve_source(spec.source, cache), None, None)
    model, tokenizer = load_hf_dir(hf_stage(inputs, cache, {}))
    before = ft.mean_loss(model, tokenizer, examples, options.max_tokens)
    tuned, _ = ft.train(model, tokenizer, examples, options)
    after = ft.mean_loss(tuned, tokenizer, examples, options.max_tokens)
    result = ft.summary(examples, options, before, after, ft.now() - started)
    with staging(out) as temp:
        tuned.save_pretrained(temp)
        (temp / "finetune.json").write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    return {**result, "adapter": str(out)}
