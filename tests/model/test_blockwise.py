"""Blockwise packing: exact on Q4_1-shaped data, and equal to what ORT's kernel computes."""

from __future__ import annotations

import numpy as np
import pytest

from compiler.model.blockwise import dequantize, quantize_blockwise


def q4_1_weight(k: int, n: int, seed: int = 0) -> np.ndarray:
    """Weights as a Q4_1 GGUF stores them: per block of 32 along K, scale * q + min."""
    rng = np.random.default_rng(seed)
    blocks = k // 32
    q = rng.integers(0, 16, (n, blocks, 32)).astype(np.float32)
    q[..., 0], q[..., 1] = 0, 15  # llama.cpp's Q4_1 maps each block's min to 0, max to 15
    scale = rng.uniform(0.001, 0.05, (n, blocks, 1)).astype(np.float32)
    low = rng.uniform(-0.4, 0.0, (n, blocks, 1)).astype(np.float32)
    return (q * scale + low).reshape(n, k).T.copy()


def test_asymmetric_int4_block32_represents_q4_1_exactly() -> None:
    weight = q4_1_weight(128, 24)
    restored = dequantize(quantize_blockwise(weight, bits=4, block_size=32, symmetric=False))
    np.testing.assert_allclose(restored, weight, atol=1e-6)


def test_misaligned_blocks_lose_precision() -> None:
    """Block 64 straddles two Q4_1 blocks: the reason the spec's block_size matters."""
    weight = q4_1_weight(128, 24)
    restored = dequantize(quantize_blockwise(weight, bits=4, block_size=64, symmetric=False))
    assert np.abs(restored - weight).max() > 1e-3


@pytest.mark.parametrize(("bits", "symmetric"), [(4, True), (8, True), (8, False)])
def test_error_is_within_half_a_step(bits: int, symmetric: bool) -> None:
    rng = np.random.default_rng(1)
    weight = rng.standard_normal((96, 16)).astype(np.float32)
    packed = quantize_blockwise(weight, bits=bits, block_size=32, symmetric=symmetric)
    step = packed.scales.reshape(16, 3, 1).max()
    assert np.abs(dequantize(packed) - weight).max() <= step / 2 + 1e-6


def test_k_not_a_multiple_of_the_block_is_padded() -> None:
    weight = np.random.default_rng(2).standard_normal((40, 8)).astype(np.float32)
    packed = quantize_blockwise(weight, bits=8, block_size=32, symmetric=True)
    assert packed.data.shape == (8, 2, 32)
    assert dequantize(packed).shape == (40, 8)


@pytest.mark.parametrize(("bits", "symmetric"), [(4, False), (4, True), (8, True), (8, False)])
def test_onnxruntime_kernel_computes_the_dequantized_matmul(bits: int, symmetric: bool) -> None:
    """The layout contract with MatMulNBits: ORT's output equals x @ dequantize(W)."""
    ort = pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper, numpy_helper

    from compiler.model.quantize import _nbits_node

    weight = q4_1_weight(64, 16, seed=3)
    packed = quantize_blockwise(weight, bits=bits, block_size=32, symmetric=symmetric)
    graph = helper.make_graph(
        [],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 16])],
    )
    matmul = helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")
    graph.node.append(_nbits_node(graph, matmul, packed, accuracy_level=0))
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid("com.microsoft", 1)]
    )
    x = np.random.default_rng(4).standard_normal((2, 64)).astype(np.float32)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (y,) = session.run(None, {"x": x})
    np.testing.assert_allclose(y, x @ dequantize(packed), rtol=1e-4, atol=1e-4)
    assert numpy_helper.to_array(graph.initializer[0]).dtype == np.uint8


@pytest.mark.parametrize("accuracy_level", [0, 4])
def test_int4_graph_rewrite_is_exact_on_q4_1_weights(accuracy_level: int) -> None:
    """to_matmul_nbits: zero point 0 plus the blocks' minima reproduces x @ W."""
    ort = pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper, numpy_helper

    from compiler.model.quantize import Kernels, to_matmul_nbits

    weight = q4_1_weight(96, 40, seed=5)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 96])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 40])],
        [numpy_helper.from_array(weight, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    assert to_matmul_nbits(model, 4, 32, False, Kernels(accuracy_level, 8)) == 1
    assert {n.op_type for n in model.graph.node} == {
        "MatMulNBits",
        "Reshape",
        "ReduceSum",
        "MatMul",
        "Add",
    }
    x = np.random.default_rng(6).standard_normal((1, 3, 96)).astype(np.float32)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (y,) = session.run(None, {"x": x})
    tolerance = 1e-4 if accuracy_level == 0 else 5e-2  # level 4 rounds x to int8 per block
    np.testing.assert_allclose(y, x @ weight, atol=tolerance, rtol=tolerance)
