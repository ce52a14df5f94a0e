"""The perplexity gate's arithmetic and its refusal message (no model needed)."""

from __future__ import annotations

import pytest

from compiler.model.errors import GateError
from compiler.model.evaluate import perplexity_gate


def test_gate_records_every_number() -> None:
    record = perplexity_gate(10.0, 10.5, 0.10)
    assert record == {"reference": 10.0, "quantized": 10.5, "increase": 0.05, "bound": 0.10}


def test_gate_refuses_above_the_bound_and_names_the_field() -> None:
    with pytest.raises(GateError, match="max_perplexity_increase") as info:
        perplexity_gate(10.0, 11.5, 0.10)
    assert "+15.0%" in str(info.value)


def test_an_improvement_passes() -> None:
    assert perplexity_gate(10.0, 9.9, 0.001)["increase"] < 0
