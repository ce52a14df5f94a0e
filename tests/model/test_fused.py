"""The fused graph (fused.py): same gates as optimum's export, a tenth of the nodes."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from compiler.model.artifact import read_manifest, verify_artifact

pytestmark = pytest.mark.slow


def _ops(artifact: Path) -> Counter[str]:
    import onnx

    graph = onnx.load(str(artifact / "model.onnx"), load_external_data=False).graph
    return Counter(node.op_type for node in graph.node)


def test_fused_artifact_passes_the_gates(fused_model_artifact: Path) -> None:
    assert verify_artifact(fused_model_artifact) == []
    manifest = read_manifest(fused_model_artifact)
    assert manifest["metrics"]["parity"]["passed"] is True
    ppl = manifest["metrics"]["perplexity"]
    assert ppl["increase"] <= ppl["bound"]
    assert manifest["graph"]["has_position_ids"] is False
    assert manifest["graph"]["padding_side"] == "right"


def test_fused_graph_has_no_shape_plumbing(fused_model_artifact: Path) -> None:
    ops = _ops(fused_model_artifact)
    assert ops["GroupQueryAttention"] == 30
    assert ops["MatMulNBits"] == 121  # 4 per layer (qkv, o, gate_up, down) + output layer
    # 4 small nodes per int4 MatMul carry the blocks' minima (quantize._split_minimum).
    assert ops["ReduceSum"] == 1 + 120
    assert ops["Unsqueeze"] == 2  # picking each row's last position for the logits
    assert ops["Concat"] == ops["Transpose"] == 0


def test_right_padded_rows_match_solo_rows(fused_model_artifact: Path) -> None:
    """The manifest says right padding: a padded batch gives each row's last-token logits."""
    from compiler.model.session import OnnxDecoder

    decoder = OnnxDecoder(fused_model_artifact / "model.onnx")
    rows = [[504, 1573, 33059, 335, 260, 1114], [7042, 30, 198]]
    width = max(len(r) for r in rows)
    ids = np.array([r + [2] * (width - len(r)) for r in rows], dtype=np.int64)
    mask = np.array([[1] * len(r) + [0] * (width - len(r)) for r in rows], dtype=np.int64)
    batch, _ = decoder.forward(ids, mask, decoder.empty_past(2))
    for index, row in enumerate(rows):
        # Solo in one pass too: int4 kernels take another path for one token at a time.
        ids = np.array([row], dtype=np.int64)
        solo, _ = decoder.forward(ids, np.ones_like(ids), decoder.empty_past(1))
        np.testing.assert_allclose(batch[index, 0], solo[0, 0], atol=1e-3, rtol=1e-3)
