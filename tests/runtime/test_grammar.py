"""The grammar sampler in-process: random logits, yet the text parses and validates."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from runtime.artifact import verify
from runtime.grammar import BatchMasks, GrammarError, Grammars, json_schema_grammar
from runtime.sampling import Sampler, SamplingParams
from runtime.text import TextCodec

SCHEMA = {
    "type": "object",
    "properties": {"n": {"type": "integer", "minimum": 0, "maximum": 50}, "b": {"type": "boolean"}},
    "required": ["n", "b"],
    "additionalProperties": False,
}


@pytest.fixture(scope="module")
def grammars(tiny_artifact: Path) -> Grammars:
    return Grammars(tiny_artifact / "tokenizer.json", 49152, [2])


@pytest.mark.parametrize("seed", range(5))
def test_random_logits_still_give_valid_json(
    grammars: Grammars, tiny_artifact: Path, seed: int
) -> None:
    codec = TextCodec(verify(tiny_artifact))
    sampler = grammars.json_schema(SCHEMA).sampler(SamplingParams(temperature=1.0, seed=seed))
    rng = np.random.default_rng(seed)
    tokens: list[int] = []
    for _ in range(60):
        logits = rng.standard_normal(49152).astype(np.float32) * 5
        before = logits.copy()
        token = sampler(logits)
        assert np.array_equal(logits, before)  # the batch's logits row is not written
        if token == 2:
            break
        sampler.observe(token)
        tokens.append(token)
    else:
        pytest.fail("the grammar never let the row end")
    jsonschema.validate(json.loads(codec.decode(tokens)), SCHEMA)


def test_a_finished_grammar_only_allows_eos(grammars: Grammars) -> None:
    sampler = grammars.json_schema({"const": 7}).sampler(SamplingParams(temperature=0))
    for token in grammars.tokenizer.tokenize_str("7"):
        sampler.observe(token)
    logits = np.zeros(49152, np.float32)
    logits[100] = 50.0  # the model would rather say something else
    assert sampler(logits) == 2


@pytest.mark.parametrize("schema", [{"type": "frob"}, [1, 2], {"$ref": "#/missing"}])
def test_bad_schemas_raise_grammar_errors(grammars: Grammars, schema: object) -> None:
    with pytest.raises(GrammarError):
        grammars.compile(json_schema_grammar(schema))


def test_batch_masks_equal_per_row_masks_beside_free_rows(grammars: Grammars) -> None:
    """One parallel fill for the batch's grammar rows chooses exactly what each row's own
    mask would (greedy rows through the allowed-argmax shortcut, sampled ones through the
    whole mask), leaves free rows and the batch's logits alone, and still ends in JSON."""
    kinds = [SamplingParams(temperature=0), *[SamplingParams(temperature=1.0, seed=7)] * 2]
    batched = [grammars.json_schema(SCHEMA).sampler(p, choice=c) for c, p in enumerate(kinds)]
    alone = [grammars.json_schema(SCHEMA).sampler(p, choice=c) for c, p in enumerate(kinds)]
    free = Sampler(SamplingParams(temperature=0))
    rows: list[Sampler] = [batched[0], free, batched[1], batched[2]]
    masks = BatchMasks(threads=2)
    rng = np.random.default_rng(3)
    texts: list[list[int]] = [[], [], []]
    for _ in range(60):
        logits = rng.standard_normal((4, 49152)).astype(np.float32) * 5
        before = logits.copy()
        masks.fill(rows)
        assert all(s.filled is not None for s in batched if s.live)  # filled, not per row
        assert free(logits[1]) == int(np.argmax(logits[1]))
        # The greedy row gets the masked argmax, however it is found (EOS once JSON is done).
        live = batched[0].live
        expected = _masked_argmax(alone[0].matcher.compute_bitmask(), logits[0]) if live else 2
        for k, row in enumerate((0, 2, 3)):
            token = batched[k](logits[row])
            assert token == alone[k](logits[row])
            assert k or token == expected
            if token != 2:
                batched[k].observe(token)
                alone[k].observe(token)
                texts[k].append(token)
        assert np.array_equal(logits, before)  # logprobs still read the model's logits
    assert masks.seconds > 0
    codec = grammars.tokenizer
    for tokens in texts:
        jsonschema.validate(json.loads(codec.decode_str(tokens)), SCHEMA)


def _masked_argmax(bitmask: bytes, logits: np.ndarray) -> int:
    bits = np.frombuffer(bitmask, np.uint8)
    allowed = np.unpackbits(bits, count=logits.size, bitorder="little").view(bool)
    return int(np.argmax(np.where(allowed, logits, -np.inf)))
