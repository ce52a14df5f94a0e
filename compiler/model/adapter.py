"""Merge a LoRA / QLoRA adapter (peft) into the base weights before export.

Merging (rather than shipping the adapter separately) means the runtime needs no peft and
the exported graph is the fine-tuned model, checked by the same parity gate.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from compiler.model.errors import BuildError
from compiler.model.hashing import sha256_dir

_STEP = "merge adapter"


def adapter_sha256(path: Path) -> str:
    """Hash the adapter directory: part of the build key."""
    _check(path)
    return sha256_dir(path)


def merge_adapter(model: Any, path: Path) -> Any:
    """Apply the adapter and fold it into the base weights; returns a plain model."""
    from peft import PeftModel

    _check(path)
    merged = PeftModel.from_pretrained(model, str(path)).merge_and_unload()
    merged.eval()
    return merged


def _check(path: Path) -> None:
    if not (path / "adapter_config.json").is_file():
        raise BuildError(_STEP, f"'{path}' is not a peft adapter (no adapter_config.json)")
