"""Text in and out: the artifact's tokenizer, its chat template, streaming detokenization, stops.

No transformers here: ``tokenizers`` reads the repaired ``tokenizer.json`` and jinja2 renders
``chat_template.jinja`` the way ``apply_chat_template`` does (sandboxed, trim/lstrip blocks).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from jinja2.exceptions import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from tokenizers import Tokenizer

from runtime.artifact import Artifact
from runtime.logprobs import TokenText

_REPLACEMENT = "\ufffd"


class TextCodec:
    def __init__(self, artifact: Artifact) -> None:
        self.tokenizer = Tokenizer.from_file(str(artifact.root / "tokenizer.json"))
        tokens = artifact.manifest["tokenizer"]
        self.bos_token = tokens.get("bos_token", "")
        self.eos_token = tokens.get("eos_token", "")
        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        env.globals["raise_exception"] = _raise_exception
        self.template = env.from_string((artifact.root / "chat_template.jinja").read_text())
        self.vocab_size = int(self.tokenizer.get_vocab_size(with_added_tokens=True))
        self.token_text = TokenText(self.tokenizer)
        # The tokenizer turns these strings into control tokens wherever they appear, so
        # text a caller types must not contain them (it could forge a turn).
        self.control_tokens = sorted(
            {t.content for t in self.tokenizer.get_added_tokens_decoder().values() if t.special}
        )

    def forged_control(self, messages: list[dict[str, Any]]) -> tuple[int, str] | None:
        """(message index, control token) of the first caller text holding one, if any."""
        for index, message in enumerate(messages):
            text = str(message.get("content") or "") + str(message.get("name") or "")
            for token in self.control_tokens:
                if token in text:
                    return index, token
        return None

    def encode(self, text: str) -> list[int]:
        # Templates already contain their special tokens; the tokenizer must not add more.
        return list(self.tokenizer.encode(text, add_special_tokens=False).ids)

    def decode(self, ids: Sequence[int]) -> str:
        return str(self.tokenizer.decode(list(ids), skip_special_tokens=True))

    def render_chat(self, messages: list[dict[str, Any]]) -> str:
        """Render like ``apply_chat_template(..., add_generation_prompt=True)``."""
        try:
            return self.template.render(
                messages=messages,
                add_generation_prompt=True,
                bos_token=self.bos_token,
                eos_token=self.eos_token,
            )
        except TemplateError as exc:
            raise ValueError(f"the model's chat template rejected the messages: {exc}") from exc


def _raise_exception(message: str) -> None:
    raise TemplateError(message)


class Detokenizer:
    """Turns a token stream into text deltas without splitting multi-byte characters.

    Byte-level BPE can end a token in the middle of a UTF-8 sequence; the text is held back
    until the character is complete. Only a short window is re-decoded per token.
    """

    def __init__(self, codec: TextCodec) -> None:
        self.codec = codec
        self.ids: list[int] = []
        self.prefix = 0
        self.read = 0

    def push(self, token: int) -> str:
        self.ids.append(token)
        before = self.codec.decode(self.ids[self.prefix : self.read])
        after = self.codec.decode(self.ids[self.prefix :])
        if len(after) <= len(before) or after.endswith(_REPLACEMENT):
            return ""
        self.prefix, self.read = self.read, len(self.ids)
        return after[len(before) :]

    def flush(self) -> str:
        before = self.codec.decode(self.ids[self.prefix : self.read])
        after = self.codec.decode(self.ids[self.prefix :])
        self.prefix = self.read = len(self.ids)
        return after[len(before) :]


class StopMatcher:
    """Finds OpenAI ``stop`` strings in streamed text and holds back possible partial matches."""

    def __init__(self, stops: Sequence[str]) -> None:
        self.stops = [s for s in stops if s]
        self.pending = ""

    def feed(self, delta: str) -> tuple[str, bool]:
        """Returns (text safe to send, whether a stop string was hit)."""
        text = self.pending + delta
        hits = [i for s in self.stops if (i := text.find(s)) >= 0]
        if hits:
            self.pending = ""
            return text[: min(hits)], True
        hold = self._partial_suffix(text)
        self.pending = text[len(text) - hold :] if hold else ""
        return text[: len(text) - hold], False

    def flush(self) -> str:
        text, self.pending = self.pending, ""
        return text

    def _partial_suffix(self, text: str) -> int:
        best = 0
        for stop in self.stops:
            for size in range(min(len(stop) - 1, len(text)), best, -1):
                if text.endswith(stop[:size]):
                    best = size
                    break
        return best
