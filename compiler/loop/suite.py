"""Evaluation suites: versioned prompts with checks, and the score of a set of answers.

A suite is YAML (``version``, ``cases``) or JSON Lines (one case per line). Each case has
``messages`` (or a ``prompt``), optional generation settings and ``checks``:

- ``exact``: the answer equals the text (surrounding whitespace ignored)
- ``contains``: the answer contains the text (case-insensitive)
- ``regex``: the pattern matches somewhere in the answer
- ``json_schema``: the answer is JSON valid against the schema
- ``reference``: the answer is at least ``min_similarity`` alike (0..1, token-level
  ratio) to the reference model's answer to the same case, or to the case's ``reference``

A case scores the share of its checks that pass; the suite scores the mean over cases.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class SuiteError(ValueError):
    """The suite file is missing or malformed (the message names file, line or field)."""


class Check(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    exact: str | None = None
    contains: str | None = None
    regex: str | None = None
    json_schema: dict[str, Any] | None = None
    reference: Annotated[float, Field(ge=0, le=1)] | None = None
    """Minimum similarity to the reference answer."""

    @model_validator(mode="after")
    def one_kind(self) -> Check:
        if len(self.model_fields_set) != 1:
            raise ValueError("a check has exactly one of exact, contains, regex, json_schema, "
                             "reference")  # fmt: skip
        if self.regex is not None:
            try:
                re.compile(self.regex)
            except re.error as exc:
                raise ValueError(f"regex: {exc}") from None
        return self

    @property
    def kind(self) -> str:
        return next(iter(self.model_fields_set))


class Case(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: Annotated[str, Field(min_length=1)]
    messages: list[dict[str, str]] | None = None
    prompt: str | None = None
    reference: str | None = None
    max_tokens: Annotated[int, Field(ge=1, le=4096)] = 64
    checks: Annotated[list[Check], Field(min_length=1)]

    @model_validator(mode="after")
    def has_input(self) -> Case:
        if (self.messages is None) == (self.prompt is None):
            raise ValueError("give exactly one of messages or prompt")
        return self

    def chat(self) -> list[dict[str, str]]:
        return self.messages or [{"role": "user", "content": self.prompt or ""}]


class Suite(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: Annotated[int, Field(ge=1)]
    name: str = ""
    cases: Annotated[list[Case], Field(min_length=1)]
    sha256: str = ""

    @model_validator(mode="after")
    def unique_ids(self) -> Suite:
        ids = [case.id for case in self.cases]
        if len(set(ids)) != len(ids):
            raise ValueError("case ids must be unique")
        return self


def load_suite(path: Path) -> Suite:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SuiteError(f"{path}: {exc.strerror}") from None
    digest = hashlib.sha256(text.encode()).hexdigest()
    if path.suffix == ".jsonl":
        cases = []
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    cases.append(json.loads(line))
                except ValueError as exc:
                    raise SuiteError(f"{path}:{number}: not JSON: {exc}") from None
        data: Any = {"version": 1, "name": path.stem, "cases": cases}
    else:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise SuiteError(f"{path}: {exc}") from None
    if not isinstance(data, dict):
        raise SuiteError(f"{path}: a suite is a mapping with version and cases")
    try:
        return Suite.model_validate({**data, "sha256": digest})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise SuiteError(f"{path}: {where}: {first['msg']}") from None


def similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a.lower().split(), b.lower().split()).ratio()


def passes(check: Check, answer: str, reference: str | None) -> bool:
    if check.exact is not None:
        return answer.strip() == check.exact.strip()
    if check.contains is not None:
        return check.contains.lower() in answer.lower()
    if check.regex is not None:
        return re.search(check.regex, answer) is not None
    if check.json_schema is not None:
        return _valid_json(answer, check.json_schema)
    assert check.reference is not None
    return reference is not None and similarity(answer, reference) >= check.reference


def _valid_json(answer: str, schema: dict[str, Any]) -> bool:
    import jsonschema

    try:
        jsonschema.validate(json.loads(answer), schema)
    except (ValueError, jsonschema.ValidationError):
        return False
    return True


def score_case(case: Case, answer: str, reference: str | None) -> dict[str, Any]:
    reference = reference if reference is not None else case.reference
    results = {f"{i}:{c.kind}": passes(c, answer, reference) for i, c in enumerate(case.checks)}
    return {
        "id": case.id,
        "score": sum(results.values()) / len(results),
        "checks": results,
        "answer": answer,
    }
