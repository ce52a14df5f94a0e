"""RUNBOOK.md: the spec's objectives, every alarm, and failover steps that fit the strategy."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from compiler.runbook import emit, render
from compiler.runbook.facts import backup_interval_minutes, facts
from compiler.spec import ResolvedSpec, load_spec
from compiler.terraform.hcl import Template
from compiler.terraform.plan import plan
from compiler.terraform.stack import FILES, common, dr

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ("assistant", "clinical-notes")


@cache
def environments(example: str) -> tuple[ResolvedSpec, ...]:
    return load_spec(ROOT / "spec" / f"{example}.yaml").environments


def section(text: str, environment: str) -> str:
    """The `## <environment>` part of the runbook."""
    start = text.index(f"\n## {environment}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def with_strategy(spec: ResolvedSpec, strategy: str, **dr_fields: Any) -> ResolvedSpec:
    return spec.model_copy(
        update={"dr": spec.dr.model_copy(update={"strategy": strategy, **dr_fields})}
    )


@pytest.mark.parametrize("example", EXAMPLES)
def test_one_runbook_per_deployment(example: str) -> None:
    found = emit(environments(example))
    assert [a.path for a in found] == [f"generated/{example}/RUNBOOK.md"]


@pytest.mark.parametrize("example", EXAMPLES)
def test_every_environment_states_the_specs_rpo_and_rto(example: str) -> None:
    text = render(environments(example))
    for spec in environments(example):
        part = section(text, spec.environment)
        assert f"RPO **{spec.dr.rpo_minutes} min**" in part
        assert f"RTO **{spec.dr.rto_minutes} min**" in part
        row = f"| {spec.dr.strategy} | {spec.dr.rpo_minutes} min | {spec.dr.rto_minutes} min |"
        assert row in text


@pytest.mark.parametrize("example", EXAMPLES)
def test_every_alarm_of_the_stack_is_explained(example: str) -> None:
    text = render(environments(example))
    for spec in environments(example):
        part = section(text, spec.environment)
        for _, view in FILES:
            for block in view(plan(spec)):
                if block.labels[:1] == ("aws_cloudwatch_metric_alarm",):
                    name = block.attribute("alarm_name")
                    assert isinstance(name, Template)
                    assert f"`{name.text.replace('${local.name}', common.name(spec))}`" in part


@pytest.mark.parametrize("example", EXAMPLES)
def test_sections_named_by_alarm_descriptions_exist(example: str) -> None:
    text = render(environments(example))
    for title in set(re.findall(r"RUNBOOK\.md, '([^']+)'", text)):
        assert f"\n### {title}\n" in text, title


def test_pilot_light_failover_starts_the_primarys_capacity() -> None:
    spec = environments("clinical-notes")[0]  # pilot light, 2 variants of 1..2 tasks
    part = section(render(environments("clinical-notes")), "staging")
    assert "--min-capacity 2 --max-capacity 4" in part  # failover: every variant's share
    assert "--min-capacity 0 --max-capacity 0" in part  # fail back: pilot light again
    assert "failover record" in part
    assert f"service/{common.name(spec)}-dr/{common.name(spec)}-dr" in part


def test_active_active_needs_no_start_and_names_latency_routing() -> None:
    part = section(render(environments("clinical-notes")), "prod")
    assert "register-scalable-target" not in part
    assert "latency routing" in part
    assert "--inverted" in part


def test_backup_restore_rebuilds_in_the_secondary_region() -> None:
    part = section(render(environments("assistant")), "staging")
    assert "recovery environment overlay" in part
    assert "region: eu-central-1" in part
    assert "no compute" in part


def test_warm_standby_without_zone_says_to_move_dns_by_hand() -> None:
    part = section(render(environments("assistant")), "prod")
    assert "no hosted zone in the spec" in part
    assert "describe-load-balancers --region eu-central-1" in part


def test_rto_estimates_warn_when_the_strategy_cannot_meet_it() -> None:
    spec = with_strategy(environments("assistant")[1], "pilot-light", rto_minutes=10)
    notes = " ".join(facts(spec).rto_notes)
    assert "longer than the spec's RTO (10 min)" in notes
    fine = " ".join(facts(environments("clinical-notes")[1]).rto_notes)
    assert "Within the spec's RTO (5 min)" in fine


def test_rpo_tighter_than_replication_sla_is_called_out() -> None:
    notes = " ".join(facts(environments("clinical-notes")[1]).rpo_notes)  # rpo 5
    assert "tighter than that SLA" in notes
    relaxed = " ".join(facts(environments("assistant")[0]).rpo_notes)  # rpo 1440
    assert "tighter" not in relaxed


def test_locks_are_explained_by_mode() -> None:
    text = render(environments("clinical-notes"))
    assert "locked in **governance** mode" in section(text, "staging")
    assert "locked in **compliance** mode" in section(text, "prod")
    assert "Object Lock in **compliance** mode" in section(text, "prod")
    assert "locked in" not in render(environments("assistant"))


def test_gdpr_regions_alarm_is_explained_only_for_gdpr() -> None:
    assert "outside-allowed-regions" in render(environments("assistant"))
    assert "-outside-allowed-regions`. Find" not in render(environments("clinical-notes"))


@pytest.mark.parametrize(
    ("schedule", "minutes"),
    [
        ("cron(0 3 * * ? *)", 1440),
        ("cron(0 */6 * * ? *)", 360),
        ("cron(30 2,14 * * ? *)", 720),
        ("cron(0/15 * * * ? *)", None),
    ],
)
def test_backup_interval(schedule: str, minutes: int | None) -> None:
    assert backup_interval_minutes(schedule) == minutes


@pytest.mark.parametrize("example", EXAMPLES)
def test_deterministic_and_tidy(example: str) -> None:
    text = render(environments(example))
    assert text == render(environments(example))
    assert text.endswith("\n") and not text.endswith("\n\n")
    assert "\n\n\n" not in text
    assert all(line == line.rstrip() for line in text.split("\n"))
    assert "{{" not in text and "{%" not in text


def test_names_match_the_stack() -> None:
    spec = environments("assistant")[1]
    found = facts(spec)
    assert found.secondary_lb == dr.secondary_elb_name(spec)
    assert found.capacity == dr.secondary_capacity(spec)
