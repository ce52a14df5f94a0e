"""Stage caches: the loaded (and merged) model and the verified fp32 export.

Each stage lives in `<cache>/stages/<stage>/<key>/`, written atomically. A quantization
change reuses the fp32 export and its parity result, so it never loads PyTorch again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compiler.model.artifact import dump_json, staging
from compiler.model.hashing import sha256_json
from compiler.model.progress import quiet_third_party, step
from compiler.model.source import ResolvedSource
from compiler.model.versions import PIPELINE_VERSION, tool_versions

PARITY_FILE = "parity.json"


@dataclass(frozen=True)
class SourceInputs:
    """What determines the weights: the source and the adapter merged into it."""

    source: ResolvedSource
    adapter_dir: Path | None
    adapter_sha256: str | None

    def key(self) -> str:
        return sha256_json(
            {
                "source": self.source.sha256,
                "adapter": self.adapter_sha256,
                "tools": tool_versions(),
                "pipeline": PIPELINE_VERSION,
            }
        )


def hf_stage(inputs: SourceInputs, cache: Path, timings: dict[str, float]) -> Path:
    """The merged model as a Hugging Face directory with the repaired tokenizer."""
    target = cache / "stages" / "hf" / inputs.key()
    if (target / "config.json").is_file():
        return target
    from compiler.model.adapter import merge_adapter
    from compiler.model.loader import save_hf_dir

    with step("load model", timings), quiet_third_party():
        model, tokenizer = _load_base(inputs, cache)
    if inputs.adapter_dir is not None:
        with step("merge adapter", timings), quiet_third_party():
            model = merge_adapter(model, inputs.adapter_dir)
    with step("save model", timings), staging(target) as temp:
        save_hf_dir(model, tokenizer, temp)
    return target


def _load_base(inputs: SourceInputs, cache: Path) -> tuple[Any, Any]:
    """The unmerged model, from its own stage when cached (safetensors load in a second)."""
    from compiler.model.loader import load_hf_dir, load_source

    base = SourceInputs(inputs.source, None, None)
    base_dir = cache / "stages" / "hf" / base.key()
    if inputs.adapter_dir is not None and (base_dir / "config.json").is_file():
        return load_hf_dir(base_dir)
    return load_source(inputs.source)


def onnx_stage(
    hf_dir: Path, cache: Path, timings: dict[str, float], graph: str = "optimum"
) -> Path:
    """fp32 ONNX with KV cache, untied, and proven equal to PyTorch (parity.json).

    `graph`: "optimum" (optimum's exporter) or "fused" (fused.py, GroupQueryAttention).
    """
    key = {"hf": hf_dir.name, "tools": tool_versions(), "graph": graph}
    if graph == "optimum":
        key.pop("graph")  # keys of optimum exports made before the fused graph existed
    target = cache / "stages" / "onnx" / sha256_json(key)
    if (target / PARITY_FILE).is_file():
        return target
    from compiler.model.evaluate import parity
    from compiler.model.export import MODEL_FILE, export_onnx
    from compiler.model.fused import emit_fused
    from compiler.model.loader import load_hf_dir
    from compiler.model.session import OnnxDecoder

    with staging(target) as temp:
        with step("export onnx", timings), quiet_third_party():
            if graph == "fused":
                emit_fused(hf_dir, temp)
            else:
                export_onnx(hf_dir, temp)
        with step("parity", timings), quiet_third_party():
            model, tokenizer = load_hf_dir(hf_dir)
            record = parity(model, tokenizer, OnnxDecoder(temp / MODEL_FILE))
            (temp / PARITY_FILE).write_text(dump_json(record), encoding="utf-8")
    return target


def read_parity(onnx_dir: Path) -> dict[str, Any]:
    record: dict[str, Any] = json.loads((onnx_dir / PARITY_FILE).read_text(encoding="utf-8"))
    return record
