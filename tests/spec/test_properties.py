"""Property: random mutations of the examples raise only SpecError, never anything else."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler.spec import SpecError, load_spec

from .helpers import EXAMPLES

SOURCES = [path.read_text(encoding="utf-8") for path in EXAMPLES]
DOCS = [yaml.safe_load(text) for text in SOURCES]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.floats(allow_nan=True),
    st.text(max_size=30), st.sampled_from(["eu-west-1", "us-east-1", "int4", "canary", "1.3"]),
)  # fmt: skip
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(max_size=10), inner, max_size=3)),
    max_leaves=6,
)  # fmt: skip


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


@st.composite
def mutated_documents(draw: st.DrawFn) -> Any:
    doc = copy.deepcopy(draw(st.sampled_from(DOCS)))
    for _ in range(draw(st.integers(1, 4))):
        paths = [p for p in _paths(doc) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(st.text(max_size=12))] = draw(values)
        else:
            parent[path[-1]] = draw(values)
    return doc


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=mutated_documents())
def test_mutated_specs_fail_only_with_spec_errors(tmp_path_factory: Any, doc: Any) -> None:
    path = Path(tmp_path_factory.mktemp("prop")) / "spec.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    try:
        load_spec(path)
    except SpecError as exc:
        assert exc.problems and all(p.line >= 1 for p in exc.problems)


@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=300), which=st.integers(0, len(SOURCES) - 1),
       cut=st.integers(0, 4000))  # fmt: skip
def test_corrupted_bytes_fail_only_with_spec_errors(
    tmp_path_factory: Any, data: bytes, which: int, cut: int
) -> None:
    source = SOURCES[which].encode("utf-8")
    path = Path(tmp_path_factory.mktemp("bytes")) / "spec.yaml"
    path.write_bytes(source[:cut] + data + source[cut:])
    try:
        load_spec(path)
    except SpecError as exc:
        assert exc.problems
