"""Where the #15 performance goals stop: the int4 kernel's ceiling and batched prefill tails.

    .venv/bin/python bench/kernel_bench.py [--artifact DIR] [--reps 20]

Two measurements, on the session alone (no HTTP), that decide how fast prefill and many-row
decoding can get on this CPU with ONNX Runtime:

1. **Kernels.** One linear layer of the model's shape (K 576, N 1536) as ``MatMulNBits``
   (int4, block 32, accuracy level 4: what the artifact uses) and as
   ``DynamicQuantizeMatMul`` (int8 weights, MLAS's integer GEMM) at M = 1, 16, 64, 256 rows,
   in GMAC/s. The int8 kernel quantizes activations with one scale per tensor, so a row's
   result depends on the other rows of the batch: it cannot serve rows that must not
   change one another (the prefix cache's exactness, deterministic mode).
2. **Prefill tails.** A burst of 16 chat prompts sharing their opening (the server bench's
   prompts), each taking the opening's KV from the prefix cache and computing only its
   tail. ONNX Runtime 1.32's GroupQueryAttention extends several rows' caches in one run
   only when given ``query_seqlens``; the bench adds that input to a copy of the artifact's
   graph and times the 16 tails one run per row (what the runtime does) against one batched
   run, and checks that both give the cold prefills' logits bit for bit.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from runtime_bench import _default_artifact, prompts_for  # noqa: E402

from runtime.artifact import Artifact, verify  # noqa: E402
from runtime.batch import SharedBatch  # noqa: E402
from runtime.model import OnnxCausalLM  # noqa: E402
from runtime.text import TextCodec  # noqa: E402

K, N, ROWS = 576, 1536, (1, 16, 64, 256)


def linear(op: str, threads: int) -> ort.InferenceSession:
    """One K x N linear layer as ``op``, with random weights of the right layout."""
    rng = np.random.default_rng(0)
    if op == "MatMulNBits":
        weights = rng.integers(0, 255, (N, K // 32, 16), dtype=np.uint8)
        inits = [weights, rng.random(N * K // 32, dtype=np.float32) * 0.01]
        attrs = {"K": K, "N": N, "bits": 4, "block_size": 32, "accuracy_level": 4}
    else:
        inits = [rng.integers(-127, 127, (K, N), dtype=np.int8), np.full(N, 0.01, np.float32)]
        attrs = {}
    names = ["W", "S"]
    node = helper.make_node(op, ["X", *names], ["Y"], domain="com.microsoft", **attrs)
    graph = helper.make_graph(
        [node],
        op,
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["M", K])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["M", N])],
        [numpy_helper.from_array(a, n) for a, n in zip(inits, names, strict=True)],
    )
    opsets = [helper.make_opsetid("", 18), helper.make_opsetid("com.microsoft", 1)]
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    return ort.InferenceSession(
        helper.make_model(graph, opset_imports=opsets).SerializeToString(), options
    )


def kernels(threads: int, reps: int) -> None:
    for op in ("MatMulNBits", "DynamicQuantizeMatMul"):
        session, cells = linear(op, threads), []
        for m in ROWS:
            x = np.random.default_rng(1).random((m, K), dtype=np.float32)
            for _ in range(10):
                session.run(None, {"X": x})
            times = []
            for _ in range(reps):
                started = time.perf_counter()
                session.run(None, {"X": x})
                times.append(time.perf_counter() - started)
            cells.append(f"M={m}: {m * K * N / statistics.median(times) / 1e9:6.1f}")
        print(f"{op:22s} GMAC/s  " + "  ".join(cells))


def with_query_seqlens(artifact: Path, into: Path) -> Artifact:
    """A copy of the artifact whose GQA nodes get ``query_seqlens = min(S, tokens seen)``:
    the count ONNX Runtime assumes without the input, given explicitly, which lifts its
    one-row limit for extending caches (every row then computes the same S tokens)."""
    shutil.copytree(artifact, into, dirs_exist_ok=True)
    model = onnx.load(str(into / "model.onnx"))
    nodes = model.graph.node
    for node in nodes:
        if node.op_type == "GroupQueryAttention":
            node.input.extend([""] * (16 - len(node.input)) + ["query_seqlens"])
    # Appended: ONNX Runtime sorts the nodes itself (the inputs come from later nodes).
    nodes.append(helper.make_node("Min", ["mask_sum", "seq_len"], ["query_len"]))
    nodes.append(helper.make_node("Cast", ["query_len"], ["query_seqlens"], to=TensorProto.INT32))
    onnx.save(model, str(into / "model.onnx"))
    # The manifest's checks are made on the original; the copy differs by those two nodes.
    return dataclasses.replace(verify(artifact), root=into)


def tails(artifact: Path, threads: int, reps: int) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        model = OnnxCausalLM(with_query_seqlens(artifact, Path(scratch)), threads=threads)
    codec = TextCodec(verify(artifact))
    chats = ([{"role": "user", "content": p}] for p in prompts_for(3, 16))
    prompts = [codec.encode(codec.render_chat(chat)) for chat in chats]
    cold = [SharedBatch(model).admit([p])[0] for p in prompts]
    runs: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(reps):  # interleaved
        for batched, times in runs.items():
            seconds, last = tail_run(model, prompts, batched)
            times.append(seconds)
            assert all(np.array_equal(last[r], cold[r]) for r in range(len(prompts)))
    width = max(len(p) for p in prompts) - SHARED
    for batched, times in runs.items():
        computed = len(prompts) * width if batched else sum(len(p) - SHARED for p in prompts)
        label = "one batched run" if batched else "one run per row"
        print(
            f"16 tails, {label}: {statistics.median(times) * 1000:4.0f} ms (median), "
            f"{computed} tokens computed, logits equal to the cold prefills"
        )


SHARED = 30  # tokens of the common opening each prompt finds in the prefix cache


def tail_run(
    model: OnnxCausalLM, prompts: list[list[int]], batched: bool
) -> tuple[float, np.ndarray]:
    """Seconds for the 15 + 1 tails after a shared opening, and their last logits."""
    batch, width = SharedBatch(model), max(len(p) for p in prompts)
    batch.admit([p[:SHARED] for p in prompts])
    batch._reserve(len(prompts), width)
    started = time.perf_counter()
    if batched:  # each row recomputes its last S tokens (two or more: exact, see prefix.py)
        ids = np.array([p[len(p) - (width - SHARED) :] for p in prompts], np.int64)
        mask = np.array([[int(c < len(p)) for c in range(width)] for p in prompts])
        last = batch._run(ids, mask, 0)[:, -1]
    else:
        ones = [np.ones((1, len(p)), np.int64) for p in prompts]
        last = np.stack(
            [batch._run(np.array([p[SHARED:]]), ones[r], r)[0, -1] for r, p in enumerate(prompts)]
        )
    return time.perf_counter() - started, last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--artifact", type=Path)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reps", type=int, default=20)
    args = parser.parse_args()
    kernels(args.threads, args.reps)
    tails(args.artifact or _default_artifact(), args.threads, max(3, args.reps // 4))


if __name__ == "__main__":
    main()
