"""Plan counts as the plan jobs hand them over, and how the table shows them."""

from __future__ import annotations

import pytest

from compiler.workflows.comment import PlanCounts


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"add":1,"change":2,"destroy":3}', PlanCounts(1, 2, 3)),
        ("", None),
        ("null", None),
        ('{"add":1}', None),
        ('{"add":"x","change":0,"destroy":0}', None),
        ('{"add":-1,"change":0,"destroy":0}', None),
        ("[1,2,3]", None),
    ],
)
def test_from_json(text: str, expected: PlanCounts | None) -> None:
    assert PlanCounts.from_json(text) == expected


def test_destroy_is_flagged() -> None:
    assert PlanCounts(1, 0, 0).cells() == "1 | 0 | 0"
    assert PlanCounts(0, 0, 2).cells() == "0 | 0 | 2 ⚠️"
