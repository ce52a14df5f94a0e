"""The real pipeline on the embedded model: gates, manifest, cache, tokenizer, refusals.

Builds share `.cache/servespec/`: the default artifact is built once per machine, and the
extra builds here reuse its fp32 export (and its parity result) from the stage cache.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from compiler.model.artifact import read_manifest, verify_artifact
from compiler.model.errors import GateError
from compiler.spec import Quantization
from tests.conftest_artifact import DEFAULT_MODEL, HELDOUT

pytestmark = pytest.mark.slow


def test_artifact_is_intact_and_complete(model_artifact: Path) -> None:
    assert verify_artifact(model_artifact) == []
    names = {p.name for p in model_artifact.iterdir()}
    assert {
        "model.onnx",
        "config.json",
        "tokenizer.json",
        "chat_template.jinja",
        "generation_config.json",
        "manifest.json",
    } <= names


def test_manifest_records_the_gates_and_the_inputs(model_artifact: Path) -> None:
    manifest = read_manifest(model_artifact)
    assert manifest["model"]["name"] == DEFAULT_MODEL.name
    assert len(manifest["model"]["source_sha256"]) == 64
    assert manifest["metrics"]["parity"]["passed"] is True
    assert all(r["equal"] for r in manifest["metrics"]["parity"]["results"])
    ppl = manifest["metrics"]["perplexity"]
    assert ppl["increase"] <= ppl["bound"] == 0.10
    assert ppl["quantized"] == pytest.approx(ppl["reference"] * (1 + ppl["increase"]), rel=1e-3)
    assert manifest["graph"] == {
        "kv_heads": 3,
        "head_dim": 64,
        "num_layers": 30,
        "has_position_ids": True,
        "padding_side": "left",
    }
    assert manifest["tokenizer"]["eos_token"] == "<|im_end|>"
    assert manifest["tools"]["onnxruntime"]


def test_graph_matches_the_contract(model_artifact: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(
        str(model_artifact / "model.onnx"), providers=["CPUExecutionProvider"]
    )
    inputs = {i.name: i for i in session.get_inputs()}
    assert inputs["input_ids"].type == "tensor(int64)"
    past = inputs["past_key_values.29.value"]
    assert past.type == "tensor(float)" and past.shape[1] == 3 and past.shape[3] == 64
    assert "position_ids" in inputs and inputs["attention_mask"].type == "tensor(int64)"
    outputs = [o.name for o in session.get_outputs()]
    assert outputs[0] == "logits" and "present.29.key" in outputs
    assert any(n.op_type == "MatMulNBits" for n in _nodes(model_artifact))


def _nodes(artifact: Path) -> list:  # type: ignore[type-arg]
    import onnx

    return list(onnx.load(str(artifact / "model.onnx"), load_external_data=False).graph.node)


def test_repaired_tokenizer_makes_the_model_answer(model_artifact: Path) -> None:
    """The notes' check: a broken tokenizer (double BOS, wrong EOS) answers nonsense."""
    from transformers import PreTrainedTokenizerFast

    from compiler.model.session import OnnxDecoder

    tokenizer = PreTrainedTokenizerFast(tokenizer_file=str(model_artifact / "tokenizer.json"))
    template = (model_artifact / "chat_template.jinja").read_text()
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is the capital of France?"}],
        chat_template=template,
        add_generation_prompt=True,
        tokenize=True,
    )
    assert prompt.count(1) == 3, "one <|im_start|> per turn, no extra BOS"
    tokens = OnnxDecoder(model_artifact / "model.onnx").greedy(prompt, 12)
    answer = tokens[: tokens.index(2)] if 2 in tokens else tokens
    assert 2 in tokens, f"no EOS in {tokens}"
    assert tokenizer.decode(answer) == "The capital of France is Paris."


def test_rebuild_with_the_same_inputs_is_a_cache_hit(
    model_artifact: Path, model_cache_dir: Path
) -> None:
    from compiler.model.build import BuildOptions, build_artifact

    start = time.perf_counter()
    options = BuildOptions(model_cache_dir, HELDOUT, batch_invariant=True)
    result = build_artifact(DEFAULT_MODEL, options)
    assert result.cached and result.path == model_artifact
    assert time.perf_counter() - start < 15


def test_a_bad_quantization_is_refused_and_leaves_nothing(
    model_artifact: Path, model_cache_dir: Path
) -> None:
    """Symmetric int4 with 128-weight blocks loses far more than the 5 % allowed here."""
    from compiler.model.build import BuildOptions, artifact_path, build_artifact

    spec = DEFAULT_MODEL.model_copy(
        update={
            "quantization": Quantization(
                method="int4", block_size=128, symmetric=True, max_perplexity_increase=0.05
            )
        }
    )
    with pytest.raises(GateError, match=r"perplexity: .* above the spec's bound of \+5\.0%"):
        build_artifact(spec, BuildOptions(model_cache_dir, HELDOUT))
    target = artifact_path(spec, BuildOptions(model_cache_dir, HELDOUT))
    assert not target.exists()
    assert not [p for p in target.parent.iterdir() if p.name.startswith(f".{target.name}")]


def test_int8_dynamic_passes_the_gate(
    model_artifact: Path, tmp_path: Path, model_cache_dir: Path
) -> None:
    """ORT dynamic int8 with the down projections in fp32 (the closest to the bound)."""
    from compiler.model.build import BuildOptions, build_artifact

    spec = DEFAULT_MODEL.model_copy(
        update={"quantization": Quantization(method="int8", int8_mode="dynamic")}
    )
    result = build_artifact(spec, BuildOptions(model_cache_dir, HELDOUT, out=tmp_path / "int8"))
    manifest = read_manifest(tmp_path / "int8")
    assert manifest["quantization"]["int8_mode"] == "dynamic"
    assert 0 <= manifest["metrics"]["perplexity"]["increase"] <= 0.10
    assert verify_artifact(result.path) == []
    ops = {n.op_type for n in _nodes(tmp_path / "int8")}
    assert "DynamicQuantizeLinear" in ops or "MatMulInteger" in ops
    assert np.isfinite(manifest["metrics"]["perplexity"]["quantized"])
