"""Export the HF directory to ONNX with a KV cache (optimum), then untie the output layer.

optimum exports a tied output layer as MatMul(x, Transpose(embedding)); ONNX Runtime's
quantizers only look at MatMuls whose weight is an initializer, so they would silently leave
those 28 M parameters in fp32. Untying gives the output layer its own weight.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from compiler.model.progress import quiet_third_party

TASK = "text-generation-with-past"
MODEL_FILE = "model.onnx"
DATA_FILE = "model.onnx.data"


def export_onnx(hf_dir: Path, out_dir: Path) -> None:
    """Run optimum's exporter, then rewrite the graph with an untied output layer."""
    from optimum.exporters.onnx import main_export

    with quiet_third_party():
        main_export(str(hf_dir), output=str(out_dir), task=TASK, device="cpu")
    import onnx

    model = onnx.load(str(out_dir / MODEL_FILE))
    untie_output_layer(model)
    (out_dir / MODEL_FILE).unlink()
    save_model(model, out_dir)


def untie_output_layer(model: Any) -> bool:
    """Replace MatMul(x, Transpose(W)) feeding `logits` by MatMul(x, W^T as an initializer)."""
    from onnx import numpy_helper

    graph = model.graph
    producers = {out: node for node in graph.node for out in node.output}
    head = producers.get("logits")
    transpose = producers.get(head.input[1]) if head is not None else None
    if head is None or head.op_type != "MatMul" or transpose is None:
        return False
    if transpose.op_type != "Transpose":
        return False
    inits = {init.name: init for init in graph.initializer}
    weight = numpy_helper.to_array(inits[transpose.input[0]])
    graph.initializer.append(numpy_helper.from_array(weight.T.copy(), "lm_head.weight"))
    head.input[1] = "lm_head.weight"
    graph.node.remove(transpose)
    return True


def save_model(model: Any, out_dir: Path) -> None:
    """One file when it fits protobuf's 2 GiB limit, external data beside it otherwise."""
    import onnx

    path = out_dir / MODEL_FILE
    if model.ByteSize() < 2_000_000_000:
        onnx.save_model(model, str(path))
        return
    onnx.save_model(
        model,
        str(path),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location=DATA_FILE,
        size_threshold=1024,
    )
