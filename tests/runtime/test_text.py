from __future__ import annotations

from pathlib import Path

import pytest

from runtime.artifact import verify
from runtime.text import Detokenizer, StopMatcher, TextCodec


@pytest.fixture(scope="module")
def codec(tiny_artifact: Path) -> TextCodec:
    return TextCodec(verify(tiny_artifact))


def test_chat_template_renders_like_transformers(codec: TextCodec) -> None:
    prompt = codec.render_chat([{"role": "user", "content": "Hi"}])
    assert prompt.startswith("<|im_start|>system\n")
    assert prompt.endswith("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
    ids = codec.encode(prompt)
    assert ids[0] == 1 and ids.count(1) == 3  # one <|im_start|> per turn, no extra BOS


@pytest.mark.parametrize(
    "text", ["Hello, world!", "naïve café 東京 🤖 done", "  spaces\n\nand lines"]
)
def test_streamed_deltas_rebuild_the_text(codec: TextCodec, text: str) -> None:
    detokenizer = Detokenizer(codec)
    deltas = [detokenizer.push(token) for token in codec.encode(text)]
    deltas.append(detokenizer.flush())
    assert "".join(deltas) == text
    assert all("\ufffd" not in d for d in deltas)


def test_stop_matcher_holds_back_partial_matches() -> None:
    matcher = StopMatcher(["END", "\n\n"])
    assert matcher.feed("abc E") == ("abc ", False)
    assert matcher.feed("N") == ("", False)
    assert matcher.feed("Dtail") == ("", True)


def test_stop_matcher_releases_false_alarms() -> None:
    matcher = StopMatcher(["END"])
    assert matcher.feed("xE") == ("x", False)
    assert matcher.feed("x") == ("Ex", False)
    assert matcher.feed("E") == ("", False)
    assert matcher.flush() == "E"
