"""Load the source as a PyTorch model, repair its tokenizer, merge the adapter.

The result is saved as a plain Hugging Face directory (safetensors) in a stage cache:
parsing a GGUF costs seconds to a minute, re-reading safetensors costs about one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from compiler.model.source import ResolvedSource
from compiler.model.tokenizer import read_special_tokens, repair_tokenizer


def load_source(source: ResolvedSource) -> tuple[Any, Any]:
    """Load (model, tokenizer) in fp32; GGUF weights are dequantized on load."""
    import torch
    from transformers import AutoModelForCausalLM

    auto: Any = _auto_tokenizer()
    kwargs: dict[str, Any] = {"dtype": torch.float32}
    if source.gguf_file is not None:
        kwargs["gguf_file"] = source.gguf_file
    model = AutoModelForCausalLM.from_pretrained(source.directory, **kwargs)
    tokenizer = (
        auto.from_pretrained(source.directory, gguf_file=source.gguf_file)
        if source.gguf_file
        else auto.from_pretrained(source.directory)
    )
    if source.gguf_file is not None:
        special = read_special_tokens(source.directory / source.gguf_file)
        tokenizer = repair_tokenizer(tokenizer, special)
        generation: Any = model.generation_config
        generation.eos_token_id = special.eos_id
        generation.bos_token_id = special.bos_id
        generation.pad_token_id = special.pad_id
    model.eval()  # type: ignore[no-untyped-call]
    return model, tokenizer


def save_hf_dir(model: Any, tokenizer: Any, target: Path) -> None:
    """Write a self-contained HF directory that optimum can export from."""
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)


def load_hf_dir(directory: Path) -> tuple[Any, Any]:
    """Reload a saved stage directory (fast: safetensors)."""
    import torch
    from transformers import AutoModelForCausalLM

    model: Any = AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32)
    model.eval()
    return model, load_tokenizer(directory)


def load_tokenizer(directory: Path) -> Any:
    """The (already repaired) tokenizer saved in a stage directory."""
    return _auto_tokenizer().from_pretrained(directory)


def _auto_tokenizer() -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer
