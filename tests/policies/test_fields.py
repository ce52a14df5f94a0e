"""Every check the gate can print has a spec field and a fix, or an honest fallback."""

from __future__ import annotations

import re

from compiler.policy.fields import FALLBACK, FIELDS, governance


def test_ids_are_checkov_or_ours() -> None:
    pattern = re.compile(r"^(CKV2?_AWS_\d+|SSP_[A-Z0-9]+_\d{3})$")
    assert all(pattern.match(check_id) for check_id in FIELDS)


def test_every_entry_names_a_field_and_a_fix() -> None:
    assert all(rule.spec_field and rule.fix for rule in FIELDS.values())


def test_unknown_check_falls_back_to_checkov_guideline() -> None:
    assert governance("CKV_DOCKER_2") is FALLBACK
    assert FALLBACK.fix == "see checkov guideline"
