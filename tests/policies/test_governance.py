"""The governance table is the truth: each weakening trips exactly the checks it lists.

validate demands a waiver for every check in `trips`; with those waivers the gate passes,
and without them the gate fails exactly those checks (checkov run over every variant once).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from compiler.artifacts import Artifact
from compiler.governance import SWITCHES, Switch
from compiler.policy.fields import FIELDS, governance
from compiler.spec import ResolvedSpec, load_spec
from compiler.terraform import environment

from ..gate_scan import failed_by_tree
from ..spec.helpers import example, set_path, write
from ..spec.test_rules import TODAY, problems

# The value that turns each default off (and what else must follow it to stay valid).
OFF: dict[str, list[tuple[str, Any]]] = {
    "security.kms.rotation": [("security.kms.rotation", False)],
    "security.waf.enabled": [("security.waf.enabled", False)],
    "security.audit.cloudtrail": [("security.audit.cloudtrail", False)],
    "security.audit.config_rules": [("security.audit.config_rules", False)],
    "observability.log_retention_days": [("observability.log_retention_days", 30)],
    "serving.auth": [("serving.auth", "none")],
    "backups.enabled": [("backups.enabled", False), ("backups.copy_to_secondary", False)],
    "observability.capture.keep_text": [
        ("security.compliance", ["gdpr", "hipaa"]),
        ("observability.log_retention_days", 2192),
        ("observability.capture.enabled", True),
        ("observability.capture.keep_text", True),
    ],
}
IDS = [switch.field for switch in SWITCHES]


def _waivers(checks: tuple[str, ...]) -> list[dict[str, str]]:
    return [
        {"check": c, "resource": "*", "owner": "sec", "reason": "accepted for a test",
         "expires": "2027-06-01"}
        for c in checks
    ]  # fmt: skip


def _weakened(switch: Switch, waived: tuple[str, ...]) -> dict[str, Any]:
    data = example("assistant")
    data["environments"] = {"staging": data["environments"]["staging"]}
    for path, value in [*OFF[switch.field], ("security.waivers", _waivers(waived))]:
        data = set_path(data, path, value)
    return data


def test_every_check_has_one_owner() -> None:
    # A check a weakening trips takes its field and fix from the switch alone.
    tripped = [check for switch in SWITCHES for check in switch.trips]
    assert len(tripped) == len(set(tripped))
    assert set(tripped) & set(FIELDS) == set()
    assert all(set(s.recorded) <= set(s.trips) for s in SWITCHES)


def test_every_switch_has_an_off_value() -> None:
    assert set(OFF) == set(IDS)


@pytest.mark.parametrize("switch", SWITCHES, ids=IDS)
def test_validate_names_every_check_the_weakening_trips(tmp_path: Path, switch: Switch) -> None:
    found = problems(tmp_path, _weakened(switch, ()))
    assert [p for p in found if p.startswith(f"{switch.field}:")], found
    assert all(check in "\n".join(found) for check in switch.trips), found
    for check in switch.trips:  # one waiver short is still refused
        fewer = tuple(c for c in switch.trips if c != check)
        assert problems(tmp_path, _weakened(switch, fewer)) != []
    assert problems(tmp_path, _weakened(switch, switch.trips)) == []


@pytest.mark.parametrize("switch", SWITCHES, ids=IDS)
def test_the_gate_fix_is_the_spec_change(switch: Switch) -> None:
    for check in switch.trips:
        rule = governance(check)
        assert rule.spec_field == switch.field
        assert rule.fix.startswith(f"set {switch.field}: {switch.secure} in the spec")


def _compiled(tmp_path: Path, switch: Switch) -> ResolvedSpec:
    path = write(tmp_path, _weakened(switch, switch.trips), f"{switch.field}.yaml")
    return load_spec(path, root=tmp_path, today=TODAY).environments[0]


def _unwaived(spec: ResolvedSpec) -> ResolvedSpec:
    # Past validation on purpose: what would the gate say if the waivers were missing?
    return spec.model_copy(update={"security": spec.security.model_copy(update={"waivers": []})})


@pytest.fixture(scope="module")
def gate_failures(
    tmp_path_factory: pytest.TempPathFactory, checkov: Path
) -> dict[str, set[tuple[str, str, str]]]:
    specs = tmp_path_factory.mktemp("specs")
    trees: dict[str, list[Artifact]] = {}
    for switch in SWITCHES:
        spec = _compiled(specs, switch)
        trees[f"{switch.field}-waived"] = environment(spec)
        trees[f"{switch.field}-bare"] = environment(_unwaived(spec))
    return failed_by_tree(checkov, trees, tmp_path_factory.mktemp("gate"))


@pytest.mark.parametrize("switch", SWITCHES, ids=IDS)
def test_with_its_waivers_the_gate_passes(
    gate_failures: dict[str, set[tuple[str, str, str]]], switch: Switch
) -> None:
    assert gate_failures[f"{switch.field}-waived"] == set()


@pytest.mark.parametrize("switch", SWITCHES, ids=IDS)
def test_without_them_the_gate_fails_exactly_the_listed_checks(
    gate_failures: dict[str, set[tuple[str, str, str]]], switch: Switch
) -> None:
    failed = {check for check, _, _ in gate_failures[f"{switch.field}-bare"]}
    assert failed == set(switch.trips) - set(switch.recorded)
