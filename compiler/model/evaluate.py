"""The gates: fp32 ONNX must decode like PyTorch; quantization may cost little perplexity."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from compiler.model.errors import GateError
from compiler.model.session import OnnxDecoder

# Small on purpose: CI runs this on 2 cores. Plain prose, code and a chat turn.
PARITY_PROMPTS = (
    "The capital of France is",
    "def fibonacci(n):",
    "<|im_start|>user\nName three colors.<|im_end|>\n<|im_start|>assistant\n",
)
PARITY_TOKENS = 16


def torch_greedy(model: Any, prompt: list[int], new_tokens: int) -> list[int]:
    """Reference decoding: plain argmax over PyTorch logits with its KV cache.

    Not `generate()`: its logits processors (e.g. min_new_tokens masking EOS) would make the
    reference differ from the raw graph for reasons that are not the export's fault.
    """
    import torch

    ids = torch.tensor([prompt])
    past = None
    out: list[int] = []
    with torch.no_grad():
        for _ in range(new_tokens):
            result = model(input_ids=ids, past_key_values=past, use_cache=True)
            past = result.past_key_values
            token = int(result.logits[0, -1].argmax())
            out.append(token)
            ids = torch.tensor([[token]])
    return out


def parity(model: Any, tokenizer: Any, decoder: OnnxDecoder) -> dict[str, Any]:
    """Compare greedy tokens prompt by prompt; refuse on the first mismatch."""
    results = []
    for text in PARITY_PROMPTS:
        prompt = tokenizer.encode(text, add_special_tokens=False)
        expected = torch_greedy(model, prompt, PARITY_TOKENS)
        actual = decoder.greedy(prompt, PARITY_TOKENS)
        results.append({"prompt": text, "tokens": expected, "equal": expected == actual})
        if expected != actual:
            raise GateError(
                f"parity: ONNX greedy output differs from PyTorch for prompt {text!r}: "
                f"torch {expected} vs onnx {actual}"
            )
    return {
        "prompts": len(results),
        "new_tokens": PARITY_TOKENS,
        "passed": True,
        "results": results,
    }


def perplexity(decoder: OnnxDecoder, tokens: list[int]) -> float:
    """exp(mean negative log-likelihood) of each token given everything before it."""
    logits = decoder.logits(tokens)[:-1].astype(np.float64)
    peak = logits.max(axis=-1, keepdims=True)
    log_norm = np.log(np.exp(logits - peak).sum(axis=-1)) + peak[:, 0]
    targets = np.array(tokens[1:])
    nll = log_norm - logits[np.arange(len(targets)), targets]
    return float(math.exp(nll.mean()))


def perplexity_gate(reference: float, quantized: float, bound: float) -> dict[str, float]:
    """Relative increase must stay within the spec's bound, or there is no artifact."""
    increase = quantized / reference - 1.0
    record = {
        "reference": round(reference, 4),
        "quantized": round(quantized, 4),
        "increase": round(increase, 4),
        "bound": bound,
    }
    if increase > bound:
        raise GateError(
            f"perplexity: quantized {quantized:.3f} vs fp32 {reference:.3f} is "
            f"+{increase:.1%}, above the spec's bound of +{bound:.1%} "
            "(model.quantization.max_perplexity_increase); try int8, a smaller block_size "
            "or asymmetric quantization"
        )
    return record
