"""The grammar sampler in-process: random logits, yet the text parses and validates."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from runtime.artifact import verify
from runtime.grammar import GrammarError, Grammars, json_schema_grammar
from runtime.sampling import SamplingParams
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
