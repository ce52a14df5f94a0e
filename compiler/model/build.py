"""`model build`: one ModelSpec in, one verified, content-addressed artifact directory out."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from compiler.model.artifact import (
    copy_artifact,
    dump_json,
    staging,
    verify_artifact,
    write_manifest,
)
from compiler.model.errors import BuildError
from compiler.model.hashing import sha256_file, sha256_json
from compiler.model.progress import log, step
from compiler.model.quantize import Kernels, quantization_record
from compiler.model.source import local_directory, resolve_source
from compiler.model.stages import SourceInputs, hf_stage, onnx_stage, read_parity
from compiler.model.types import ModelSpecLike
from compiler.model.versions import PIPELINE_VERSION, tool_versions

COPIED_FILES = ("config.json", "tokenizer.json", "chat_template.jinja")


@dataclass(frozen=True)
class BuildOptions:
    """Where to cache and what to measure against; no CLI arguments reach the core."""

    cache_dir: Path
    heldout: Path
    out: Path | None = None
    endpoint_url: str | None = None
    # "optimum": optimum's export (position_ids, left padding). "fused": GroupQueryAttention
    # graph from fused.py (no position_ids, right padding, faster decoding).
    graph: Literal["optimum", "fused"] = "optimum"
    # True: fp32 activations and output layer, so batched rows equal solo rows bit for bit
    # (~2-3x slower int4 decoding). See quantize.Kernels.
    batch_invariant: bool = False

    def kernels(self) -> Kernels:
        return Kernels.batch_invariant() if self.batch_invariant else Kernels()


@dataclass(frozen=True)
class BuildResult:
    path: Path
    build_key: str
    cached: bool
    timings: dict[str, float] = field(default_factory=dict)


def build_artifact(spec: ModelSpecLike, options: BuildOptions) -> BuildResult:
    """Resolve, merge, export, quantize, gate, package; reuse the cache when inputs match."""
    timings: dict[str, float] = {}
    with step("resolve source", timings):
        inputs = _source_inputs(spec, options)
    key = build_key(spec, inputs, sha256_file(options.heldout), options)
    target = options.cache_dir / "artifacts" / key
    cached = not verify_artifact(target)
    if cached:
        log(f"cached artifact {key[:12]} reused")
    else:
        _build_into(target, spec, inputs, key, options, timings)
    if options.out is not None:
        copy_artifact(target, options.out)
    return BuildResult(options.out or target, key, cached, timings)


def build_key(
    spec: ModelSpecLike, inputs: SourceInputs, heldout_sha256: str, options: BuildOptions
) -> str:
    """sha256 over everything that changes the artifact's bytes."""
    extra = {"graph": options.graph}
    return sha256_json(
        {
            **extra,
            "source": inputs.source.sha256,
            "adapter": inputs.adapter_sha256,
            "quantization": quantization_record(spec.quantization, options.kernels()),
            "heldout": heldout_sha256,
            "name": spec.name,
            "version": spec.version,
            "source_uri": spec.source,
            "context_tokens": spec.context_tokens,
            "tools": tool_versions(),
            "pipeline": PIPELINE_VERSION,
        }
    )


def _source_inputs(spec: ModelSpecLike, options: BuildOptions) -> SourceInputs:
    source = resolve_source(spec.source, options.cache_dir, options.endpoint_url)
    if spec.adapter is None:
        return SourceInputs(source, None, None)
    from compiler.model.adapter import adapter_sha256

    adapter = local_directory(spec.adapter.path, options.cache_dir, options.endpoint_url)
    return SourceInputs(source, adapter, adapter_sha256(adapter))


def _build_into(
    target: Path,
    spec: ModelSpecLike,
    inputs: SourceInputs,
    key: str,
    options: BuildOptions,
    timings: dict[str, float],
) -> None:
    from compiler.model.quantize import quantize

    hf_dir = hf_stage(inputs, options.cache_dir, timings)
    onnx_dir = onnx_stage(hf_dir, options.cache_dir, timings, options.graph)
    config = json.loads((hf_dir / "config.json").read_text(encoding="utf-8"))
    _check_context(spec, config)
    with staging(target) as temp:
        with step("quantize", timings):
            quantize(onnx_dir, temp, spec.quantization, options.kernels())
        with step("perplexity", timings):
            metrics = _perplexities(onnx_dir, temp, hf_dir, options.heldout, spec)
        with step("package", timings):
            _package(
                temp,
                hf_dir,
                spec,
                inputs,
                key,
                config,
                {"parity": read_parity(onnx_dir), "perplexity": metrics},
                quantization_record(spec.quantization, options.kernels()),
            )


def _check_context(spec: ModelSpecLike, config: dict[str, Any]) -> None:
    limit = int(config.get("max_position_embeddings", 0))
    if spec.context_tokens > limit:
        raise BuildError(
            "check context",
            f"model.context_tokens {spec.context_tokens} exceeds "
            f"the model's max_position_embeddings {limit}",
        )


def _perplexities(
    onnx_dir: Path, quant_dir: Path, hf_dir: Path, heldout: Path, spec: ModelSpecLike
) -> dict[str, float]:
    from compiler.model.evaluate import perplexity, perplexity_gate
    from compiler.model.loader import load_tokenizer
    from compiler.model.session import OnnxDecoder

    tokenizer = load_tokenizer(hf_dir)
    tokens = tokenizer.encode(heldout.read_text(encoding="utf-8"), add_special_tokens=False)
    reference = perplexity(OnnxDecoder(onnx_dir / "model.onnx"), tokens)
    quantized = perplexity(OnnxDecoder(quant_dir / "model.onnx"), tokens)
    log(f"perplexity fp32 {reference:.4f}, {spec.quantization.method} {quantized:.4f}")
    record = perplexity_gate(reference, quantized, spec.quantization.max_perplexity_increase)
    return {**record, "tokens": len(tokens)}


def _package(
    temp: Path,
    hf_dir: Path,
    spec: ModelSpecLike,
    inputs: SourceInputs,
    key: str,
    config: dict[str, Any],
    metrics: dict[str, Any],
    quantization: dict[str, Any],
) -> None:
    for name in COPIED_FILES:
        shutil.copy2(hf_dir / name, temp / name)
    tokenizer = _tokenizer_record(hf_dir)
    generation = {
        "bos_token_id": tokenizer["bos_token_id"],
        "eos_token_id": tokenizer["eos_token_ids"],
        "pad_token_id": tokenizer["pad_token_id"],
    }
    (temp / "generation_config.json").write_text(dump_json(generation), encoding="utf-8")
    write_manifest(
        temp,
        {
            "model": {
                "name": spec.name,
                "version": spec.version,
                "source": spec.source,
                "source_sha256": inputs.source.sha256,
                "adapter_sha256": inputs.adapter_sha256,
            },
            "tokenizer": tokenizer,
            "context_tokens": spec.context_tokens,
            "quantization": quantization,
            "graph": _graph(config, temp / "model.onnx"),
            "metrics": metrics,
            "tools": tool_versions(),
            "build_key": key,
        },
    )


def _tokenizer_record(hf_dir: Path) -> dict[str, Any]:
    from compiler.model.loader import load_tokenizer

    tok = load_tokenizer(hf_dir)
    return {
        "bos_token": tok.bos_token,
        "eos_token": tok.eos_token,
        "bos_token_id": tok.bos_token_id,
        "eos_token_ids": [tok.eos_token_id],
        "pad_token_id": tok.pad_token_id,
    }


def _graph(config: dict[str, Any], model_path: Path) -> dict[str, Any]:
    """Shape facts the runtime needs before it opens a session."""
    import onnx

    inputs = {i.name for i in onnx.load(str(model_path), load_external_data=False).graph.input}
    heads = int(config["num_attention_heads"])
    return {
        "kv_heads": int(config.get("num_key_value_heads", heads)),
        "head_dim": int(config.get("head_dim") or config["hidden_size"] // heads),
        "num_layers": int(config["num_hidden_layers"]),
        "has_position_ids": "position_ids" in inputs,
        # GroupQueryAttention reads each row's length from the mask: pads must trail.
        "padding_side": "left" if "position_ids" in inputs else "right",
    }


def artifact_path(spec: ModelSpecLike, options: BuildOptions) -> Path:
    """Where the cache keeps (or would keep) this spec's artifact; builds nothing."""
    inputs = _source_inputs(spec, options)
    key = build_key(spec, inputs, sha256_file(options.heldout), options)
    return options.cache_dir / "artifacts" / key
