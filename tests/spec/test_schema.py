"""The committed JSON Schema and reference page match the model, and accept the examples."""

from __future__ import annotations

import json

import jsonschema
import yaml

from compiler.spec.schema import json_schema, reference_markdown, schema_text

from .helpers import EXAMPLES, ROOT


def test_committed_schema_is_current() -> None:
    committed = (ROOT / "spec" / "servespec.schema.json").read_text(encoding="utf-8")
    assert committed == schema_text(), "run `servespec schema --write`"


def test_committed_reference_is_current() -> None:
    committed = (ROOT / "docs" / "spec-reference.md").read_text(encoding="utf-8")
    assert committed == reference_markdown(), "run `servespec schema --write`"


def test_schema_accepts_every_example() -> None:
    validator = jsonschema.Draft202012Validator(json_schema())
    for path in EXAMPLES:
        errors = list(validator.iter_errors(yaml.safe_load(path.read_text(encoding="utf-8"))))
        assert errors == [], (path, [e.message for e in errors])


def test_schema_rejects_a_typo_in_an_overlay() -> None:
    validator = jsonschema.Draft202012Validator(json_schema())
    doc = yaml.safe_load(EXAMPLES[0].read_text(encoding="utf-8"))
    doc["environments"]["staging"] = {"scalling": {"min": 1}}
    assert list(validator.iter_errors(doc))


def test_examples_carry_the_schema_modeline() -> None:
    for path in EXAMPLES:
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first == "# yaml-language-server: $schema=./servespec.schema.json"


def test_reference_lists_every_section() -> None:
    text = reference_markdown()
    for field in ("`model.quantization.block_size`", "`security.waivers[].expires`",
                  "`dr.strategy`", "`variants[].weight`"):  # fmt: skip
        assert field in text
    json.loads(schema_text())
