"""Environments of one spec deploy to distinct AWS accounts and distinct host names."""

from __future__ import annotations

from pathlib import Path

import pytest

from compiler.spec import SpecError, load_spec

ROOT = Path(__file__).resolve().parents[2]


def _variant(tmp_path: Path, old: str, new: str) -> Path:
    text = (ROOT / "spec" / "assistant.yaml").read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "assistant.yaml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


def test_examples_name_one_account_per_environment() -> None:
    ids = {
        s.environment: s.account.id
        for s in load_spec(ROOT / "spec/assistant.yaml").environments
        if s.account
    }
    assert ids == {"staging": "111111111111", "prod": "222222222222"}


def test_two_environments_in_one_account_is_an_error(tmp_path: Path) -> None:
    path = _variant(tmp_path, 'id: "222222222222"', 'id: "111111111111"')
    with pytest.raises(SpecError) as info:
        load_spec(path)
    [problem] = info.value.problems
    assert problem.field == "environments.prod.account.id"
    assert "'staging'" in problem.message and "own AWS account" in problem.message
    line = path.read_text(encoding="utf-8").splitlines()[problem.line - 1]
    assert "111111111111" in line


def test_two_environments_with_one_host_name_is_an_error(tmp_path: Path) -> None:
    path = _variant(
        tmp_path,
        "tls: {domain: assistant.staging.example.com}",
        "tls: {domain: assistant.example.com}",
    )
    with pytest.raises(SpecError) as info:
        load_spec(path)
    [problem] = info.value.problems
    # prod inherits the base's host name: the error points at the base.
    assert problem.field == "security.tls.domain"
    assert "own host name" in problem.message


def test_account_ids_are_twelve_digits(tmp_path: Path) -> None:
    path = _variant(tmp_path, 'id: "222222222222"', 'id: "2222"')
    with pytest.raises(SpecError) as info:
        load_spec(path)
    [problem] = info.value.problems
    assert problem.field == "account.id"
    # at the overlay's line, not the base's
    assert 'id: "2222"' in path.read_text(encoding="utf-8").splitlines()[problem.line - 1]
