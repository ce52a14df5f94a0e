"""Quantize the fp32 ONNX graph as the spec says: none, int8 (dynamic / weight-only), int4.

int4 is mixed precision: every transformer MatMul becomes MatMulNBits with 4-bit blocks and
the output layer 8-bit (it came from a Q8_0 tensor; the logits are the most sensitive
product). Asymmetric int4 keeps each block's float minimum exactly (see _split_minimum), so
the source's Q4_1 blocks survive re-quantization unchanged. int8 dynamic uses ONNX Runtime's
quantize_dynamic, which on AVX2 CPUs needs `reduce_range` (integer overflow otherwise) and
overflows on the MLP down projections, so those stay fp32.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from compiler.model.blockwise import Packed, quantize_blockwise
from compiler.model.export import MODEL_FILE, save_model
from compiler.model.types import QuantizationLike

OUTPUT_LAYER = "lm_head.weight"


@dataclass(frozen=True)
class Kernels:
    """How ONNX Runtime runs MatMulNBits: the speed / batch-invariance trade (measured here).

    accuracy_level 4 quantizes activations to int8 inside the kernel: ~2-3x faster decoding,
    but a row's logits can differ in the last bits between batched and solo runs. 8-bit
    MatMulNBits at level 0 runs on a slow reference path (~3 tok/s), so a batch-invariant
    build keeps the output layer in fp32 instead.
    """

    accuracy_level: int = 4
    output_layer_bits: int = 8

    @classmethod
    def batch_invariant(cls) -> Kernels:
        return cls(accuracy_level=0, output_layer_bits=32)


def quantization_record(q: QuantizationLike, kernels: Kernels = Kernels()) -> dict[str, Any]:
    """The settings that define the quantized graph: part of the build key and manifest."""
    record: dict[str, Any] = {
        "method": q.method,
        "max_perplexity_increase": q.max_perplexity_increase,
    }
    if q.method == "int8":
        record["int8_mode"] = q.int8_mode
    if q.method == "int4" or (q.method == "int8" and q.int8_mode == "weight-only"):
        record.update(block_size=q.block_size, symmetric=q.symmetric)
        record.update(accuracy_level=kernels.accuracy_level, zero_points=_zero_point_kind(q))
        record["output_layer_bits"] = kernels.output_layer_bits if q.method == "int4" else 8
    if q.method == "int8" and q.int8_mode == "dynamic":
        record.update(per_channel=True, reduce_range=True, fp32_nodes="mlp.down_proj")
    return record


def _zero_point_kind(q: QuantizationLike) -> str:
    if q.symmetric:
        return "none"
    # int4 asymmetric: zero point 0 plus an exact per-block minimum term (see _split_minimum).
    return "block-minimum" if q.method == "int4" else "uint8"


def quantize(
    fp32_dir: Path, out_dir: Path, q: QuantizationLike, kernels: Kernels = Kernels()
) -> None:
    """Write the quantized model.onnx into out_dir."""
    import onnx

    if q.method == "int8" and q.int8_mode == "dynamic":
        _dynamic_int8(fp32_dir / MODEL_FILE, out_dir / MODEL_FILE)
        return
    model = onnx.load(str(fp32_dir / MODEL_FILE))
    if q.method == "int4":
        to_matmul_nbits(model, 4, q.block_size, q.symmetric, kernels)
    elif q.method == "int8":
        # 8-bit at accuracy level 0 is the slow path: weight-only int8 always uses level 4.
        to_matmul_nbits(model, 8, q.block_size, q.symmetric, Kernels(4, 8))
    save_model(model, out_dir)


def to_matmul_nbits(
    model: Any, bits: int, block_size: int, symmetric: bool, kernels: Kernels = Kernels()
) -> int:
    """Replace every MatMul with an initializer weight by MatMulNBits; returns the count."""
    from onnx import numpy_helper

    graph = model.graph
    inits = {init.name: init for init in graph.initializer}
    count = 0
    for index, node in enumerate(list(graph.node)):
        if node.op_type != "MatMul" or node.input[1] not in inits:
            continue
        weight = numpy_helper.to_array(inits[node.input[1]])
        if weight.ndim != 2:
            continue
        is_head = node.input[1] == OUTPUT_LAYER
        if is_head and kernels.output_layer_bits not in (4, 8):
            continue
        packed = quantize_blockwise(
            weight,
            kernels.output_layer_bits if is_head else bits,
            32 if is_head else block_size,
            symmetric or is_head,
        )
        graph.node.remove(node)
        replacement = _split_minimum(graph, node, packed) if _splittable(packed) else []
        if replacement:
            packed = dataclasses.replace(packed, zero_points=_zero_zero_points(packed))
            node = _renamed_output(node, replacement[-1].input[0])
        nbits = _nbits_node(graph, node, packed, kernels.accuracy_level)
        for offset, new in enumerate([nbits, *replacement]):
            graph.node.insert(index + offset, new)
        graph.initializer.remove(inits.pop(node.input[1]))
        count += 1
    _add_ms_domain(model)
    return count


def _splittable(packed: Packed) -> bool:
    """Float zero points run on a slow reference path in ORT's CPU kernel (~1 tok/s here)."""
    return packed.bits == 4 and packed.zero_points is not None and packed.k % packed.block_size == 0


def _split_minimum(graph: Any, node: Any, packed: Packed) -> list[Any]:
    """Rewrite x @ (d*q + m) as MatMulNBits(x; q, d, zero point 0) + blocksum(x) @ M.

    Exact, and both halves run on fast kernels: M holds each block's minimum m
    [blocks, N], a 1/block_size-sized fp32 MatMul over the per-block sums of x.
    """
    from onnx import helper, numpy_helper

    blocks = packed.k // packed.block_size
    assert packed.zero_points is not None
    minimum = (-packed.zero_points * packed.scales).reshape(packed.n, blocks).T
    base = f"{node.name}_min"
    graph.initializer.extend(
        [
            numpy_helper.from_array(np.ascontiguousarray(minimum, np.float32), f"{base}_M"),
            numpy_helper.from_array(np.array([0, 0, blocks, packed.block_size]), f"{base}_shape"),
            numpy_helper.from_array(np.array([-1]), f"{base}_axes"),
        ]
    )
    x, y = node.input[0], node.output[0]
    return [
        helper.make_node("Reshape", [x, f"{base}_shape"], [f"{base}/blocks"], name=f"{base}/R"),
        helper.make_node(
            "ReduceSum",
            [f"{base}/blocks", f"{base}_axes"],
            [f"{base}/sums"],
            keepdims=0,
            name=f"{base}/S",
        ),
        helper.make_node("MatMul", [f"{base}/sums", f"{base}_M"], [f"{base}/y"], name=f"{base}/M"),
        helper.make_node("Add", [f"{base}/nbits", f"{base}/y"], [y], name=f"{base}/A"),
    ]


def _zero_zero_points(packed: Packed) -> np.ndarray:
    """uint8 zero points of 0, two 4-bit values per byte, one row per output column."""
    blocks = packed.k // packed.block_size
    return np.zeros(packed.n * ((blocks + 1) // 2), dtype=np.uint8)


def _renamed_output(node: Any, output: str) -> Any:
    from onnx import helper

    return helper.make_node(node.op_type, list(node.input), [output], name=node.name)


def _nbits_node(graph: Any, node: Any, packed: Packed, accuracy_level: int) -> Any:
    from onnx import helper, numpy_helper

    base = node.input[1].replace("/", "_").replace(":", "_")
    names = [f"{base}_Q{packed.bits}", f"{base}_scales"]
    tensors = [packed.data, packed.scales]
    if packed.zero_points is not None:
        names.append(f"{base}_zero_points")
        tensors.append(packed.zero_points)
    for name, tensor in zip(names, tensors, strict=True):
        graph.initializer.append(numpy_helper.from_array(tensor, name))
    return helper.make_node(
        "MatMulNBits",
        [node.input[0], *names],
        list(node.output),
        name=f"{node.name}_Q{packed.bits}",
        domain="com.microsoft",
        K=packed.k,
        N=packed.n,
        bits=packed.bits,
        block_size=packed.block_size,
        accuracy_level=accuracy_level,
    )


def _add_ms_domain(model: Any) -> None:
    from onnx import helper

    if not any(op.domain == "com.microsoft" for op in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))


def _dynamic_int8(source: Path, target: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load(str(source), load_external_data=False).graph
    keep_fp32 = [n.name for n in graph.node if n.op_type == "MatMul" and "down_proj" in n.name]
    with _quiet():
        quantize_dynamic(
            source,
            target,
            op_types_to_quantize=["MatMul"],
            per_channel=True,
            reduce_range=True,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=keep_fp32,
            # Shape inference cannot type com.microsoft outputs (the fused graph's GQA).
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )


@contextmanager
def _quiet() -> Iterator[None]:
    """ORT's quantizers log every node at INFO on the root logger."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)
