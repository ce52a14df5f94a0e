"""Repair the tokenizer transformers 4.57 builds from a GGUF file.

What it gets wrong (verified in the notes): EOS comes out as `<|im_start|>`, the GGUF's
add-BOS = false is ignored (chat prompts start with a doubled BOS and answers turn to
nonsense), there is no pad token, and the decoder is not byte-level. We keep its BPE model
and vocabulary, and rebuild everything around it from the GGUF's own metadata.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class SpecialTokens:
    """What the GGUF metadata says the special tokens are."""

    bos_id: int
    eos_id: int
    pad_id: int
    unk_id: int
    chat_template: str | None


def read_special_tokens(gguf_path: Path) -> SpecialTokens:
    """Read token ids and the chat template straight from the GGUF header."""
    from gguf import GGUFReader

    reader = GGUFReader(str(gguf_path))

    def scalar(key: str, default: int) -> int:
        field = reader.fields.get(key)
        return int(field.parts[field.data[0]][0]) if field and field.data else default

    template_field = reader.fields.get("tokenizer.chat_template")
    template = None
    if template_field is not None and template_field.data:
        template = bytes(template_field.parts[template_field.data[0]]).decode("utf-8")
    eos = scalar("tokenizer.ggml.eos_token_id", 2)
    return SpecialTokens(
        bos_id=scalar("tokenizer.ggml.bos_token_id", 1),
        eos_id=eos,
        pad_id=scalar("tokenizer.ggml.padding_token_id", eos),
        unk_id=scalar("tokenizer.ggml.unknown_token_id", 0),
        chat_template=template,
    )


def repair_tokenizer(broken: Any, special: SpecialTokens) -> Any:
    """Return a PreTrainedTokenizerFast with byte-level decoding and the GGUF's tokens."""
    from tokenizers import decoders, processors
    from transformers import PreTrainedTokenizerFast

    backend = broken.backend_tokenizer
    # Byte-level BPE: decode bytes, never trim offsets, and add no BOS (the template does).
    backend.decoder = decoders.ByteLevel()
    backend.post_processor = processors.ByteLevel(trim_offsets=False)
    token = backend.id_to_token
    fast: Any = PreTrainedTokenizerFast
    fixed = fast(
        tokenizer_object=backend,
        bos_token=token(special.bos_id),
        eos_token=token(special.eos_id),
        pad_token=token(special.pad_id),
        unk_token=token(special.unk_id),
        padding_side="left",
        clean_up_tokenization_spaces=False,
    )
    if special.chat_template is not None:
        fixed.chat_template = special.chat_template
    return fixed
