"""A LoRA adapter made here with peft is merged, changes the model, and survives export."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from compiler.model.artifact import read_manifest
from compiler.spec import Adapter, Quantization
from tests.conftest_artifact import DEFAULT_MODEL, HELDOUT

pytestmark = pytest.mark.slow
PROMPT = "The capital of France is"


def _base_model(cache: Path) -> tuple[Any, Any]:
    from compiler.model.loader import load_hf_dir
    from compiler.model.source import resolve_source
    from compiler.model.stages import SourceInputs, hf_stage

    inputs = SourceInputs(resolve_source(DEFAULT_MODEL.source, cache), None, None)
    return load_hf_dir(hf_stage(inputs, cache, {}))


@pytest.fixture(scope="module")
def adapter_dir(
    model_artifact: Path, model_cache_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """Seeded random LoRA (B != 0, unlike peft's default init): same bytes every run."""
    import torch
    from peft import LoraConfig, get_peft_model

    model, _ = _base_model(model_cache_dir)
    torch.manual_seed(0)
    config = LoraConfig(
        r=8, lora_alpha=16, target_modules=["v_proj", "o_proj"], init_lora_weights=False
    )
    peft_model = get_peft_model(model, config)
    path = tmp_path_factory.mktemp("lora")
    peft_model.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def merged_artifact(
    adapter_dir: Path, model_cache_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    from compiler.model.build import BuildOptions, build_artifact

    spec = DEFAULT_MODEL.model_copy(
        update={
            "adapter": Adapter(path=str(adapter_dir)),
            "quantization": Quantization(method="none"),
        }
    )
    out = tmp_path_factory.mktemp("merged") / "artifact"
    build_artifact(spec, BuildOptions(model_cache_dir, HELDOUT, out=out))
    return out


def _tokens(artifact: Path) -> list[int]:
    from transformers import PreTrainedTokenizerFast

    from compiler.model.session import OnnxDecoder

    tokenizer = PreTrainedTokenizerFast(tokenizer_file=str(artifact / "tokenizer.json"))
    prompt = tokenizer.encode(PROMPT, add_special_tokens=False)
    return OnnxDecoder(artifact / "model.onnx").greedy(prompt, 16)


def test_manifest_names_the_adapter(merged_artifact: Path, adapter_dir: Path) -> None:
    from compiler.model.hashing import sha256_dir

    manifest = read_manifest(merged_artifact)
    assert manifest["model"]["adapter_sha256"] == sha256_dir(adapter_dir)
    assert manifest["metrics"]["parity"]["passed"] is True


def test_adapter_changes_the_outputs(merged_artifact: Path, model_artifact: Path) -> None:
    assert _tokens(merged_artifact) != _tokens(model_artifact)


def test_onnx_logits_match_the_merged_pytorch_model(
    merged_artifact: Path, adapter_dir: Path, model_cache_dir: Path
) -> None:
    import torch
    from peft import PeftModel

    from compiler.model.session import OnnxDecoder

    base, tokenizer = _base_model(model_cache_dir)
    merged = PeftModel.from_pretrained(base, str(adapter_dir)).merge_and_unload().eval()
    ids = tokenizer.encode(PROMPT, add_special_tokens=False)
    with torch.no_grad():
        expected = merged(torch.tensor([ids])).logits[0].numpy()
    actual = OnnxDecoder(merged_artifact / "model.onnx").logits(ids)
    np.testing.assert_allclose(actual, expected, atol=2e-3, rtol=1e-3)
    base_logits = OnnxDecoder(model_artifact_path(model_cache_dir)).logits(ids)
    assert np.abs(base_logits - actual).max() > 0.1


def model_artifact_path(cache: Path) -> Path:
    from compiler.model.build import BuildOptions, artifact_path

    options = BuildOptions(cache, HELDOUT, batch_invariant=True)
    return artifact_path(DEFAULT_MODEL, options) / "model.onnx"
