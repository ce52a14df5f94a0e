"""Every cross-field rule, with a spec that passes it and one that breaks it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from compiler.spec import SpecError, load_spec
from compiler.spec.rules import HIPAA_MIN_LOG_RETENTION_DAYS

from .helpers import example, set_path, write

TODAY = dt.date(2026, 11, 24)


def problems(tmp_path: Path, data: dict[str, Any]) -> list[str]:
    try:
        load_spec(write(tmp_path, data), root=tmp_path, today=TODAY)
    except SpecError as exc:
        return [f"{p.field}: {p.message}" for p in exc.problems]
    return []


def changed(*changes: tuple[str, Any], base: str = "assistant") -> dict[str, Any]:
    data = example(base)
    for path, value in changes:
        data = set_path(data, path, value)
    return data


def test_examples_are_valid(tmp_path: Path) -> None:
    assert problems(tmp_path, example("assistant")) == []
    assert problems(tmp_path, example("clinical-notes")) == []


# Variants need the rolling strategy: drop the prod overlay that asks for a canary.
ONE_ROLLING_ENV = ("environments", {"staging": {"deployment": {"strategy": "rolling"}}})

CASES = [
    # (name, valid changes, invalid changes, expected message fragment)
    ("min<=max", [("environments.staging.scaling", {"min": 2, "max": 2})],
     [("environments.staging.scaling", {"min": 3, "max": 2})],
     "scaling.min: min (3) exceeds max (2)"),
    ("weights sum", [ONE_ROLLING_ENV, ("variants", [
        {"name": "aa", "model_version": "1", "weight": 60},
        {"name": "bb", "model_version": "2", "weight": 40}])],
     [("variants", [{"name": "aa", "model_version": "1", "weight": 60},
                    {"name": "bb", "model_version": "2", "weight": 30}])],
     "variants: variant weights sum to 90, not 100"),
    ("unique variant names", [], [ONE_ROLLING_ENV, ("variants", [
        {"name": "aa", "model_version": "1", "weight": 50},
        {"name": "aa", "model_version": "2", "weight": 50}])],
     "variants[1].name: variant name 'aa' is used twice"),
    ("single variant", [], [ONE_ROLLING_ENV,
                            ("variants", [{"name": "aa", "model_version": "1", "weight": 100}])],
     "variants: give at least two variants"),
    ("dr region differs", [("dr.secondary_region", "eu-west-3")],
     [("dr.secondary_region", "eu-west-1")], "must differ from the primary region"),
    ("dr needs secondary", [("dr", {"strategy": "none"}), ("backups.copy_to_secondary", False),
                            ("environments.prod.dr", {"strategy": "none"})],
     [("dr", {"strategy": "pilot-light"})], "strategy 'pilot-light' needs a secondary_region"),
    ("real region", [], [("dr.secondary_region", "eu-westt-1")],
     "'eu-westt-1' is not an AWS region; did you mean 'eu-west-1'?"),
    ("copy needs secondary", [], [("dr", {"strategy": "none"})],
     "backups.copy_to_secondary: needs dr.secondary_region"),
    ("canary bake", [("environments.prod.deployment", {"strategy": "canary", "bake_minutes": 5})],
     [("environments.prod.deployment", {"strategy": "canary", "bake_minutes": 0})],
     "a canary needs bake time"),
    ("canary alarms", [], [("deployment", {"strategy": "canary", "rollback_on_alarm": False})],
     "rollback_on_alarm must be true"),
    ("variants roll", [("variants", [{"name": "aa", "model_version": "1", "weight": 50},
                                     {"name": "bb", "model_version": "2", "weight": 50}]),
                       ("environments.prod.deployment", {"strategy": "rolling"}),
                       ("environments.staging.deployment", {"strategy": "rolling"})],
     [("variants", [{"name": "aa", "model_version": "1", "weight": 50},
                    {"name": "bb", "model_version": "2", "weight": 50}])],
     "cannot be combined with variants"),
    ("gpu needs ec2", [("compute", {"platform": "ec2", "instance_type": "g5.xlarge",
                                    "gpu": {"count": 1}})],
     [("compute", {"platform": "fargate", "gpu": {"count": 1}})], "GPUs need platform ec2"),
    ("gpu family", [], [("compute", {"platform": "ec2", "instance_type": "m7i.xlarge",
                                     "gpu": {"count": 1}})], "'m7i.xlarge' has no GPU"),
    ("ec2 instance type", [], [("compute", {"platform": "ec2"})],
     "platform ec2 needs an instance_type"),
    ("fargate memory", [("compute", {"cpu": 1024, "memory_mib": 8192})],
     [("compute", {"cpu": 1024, "memory_mib": 16384})], "takes 2048..8192 MiB"),
    # In range but between Fargate's sizes: RegisterTaskDefinition refuses it.
    ("fargate 8 vcpu steps", [("compute", {"cpu": 8192, "memory_mib": 20480})],
     [("compute", {"cpu": 8192, "memory_mib": 18432})],
     "takes 16384..61440 MiB in steps of 4096, not 18432"),
    ("fargate 16 vcpu steps", [("compute", {"cpu": 16384, "memory_mib": 40960})],
     [("compute", {"cpu": 16384, "memory_mib": 36864})], "in steps of 8192, not 36864"),
    ("fargate quarter vcpu sizes", [("compute", {"cpu": 256, "memory_mib": 2048})],
     [("compute", {"cpu": 256, "memory_mib": 1536})], "takes 512, 1024 or 2048 MiB"),
    ("tokens coherent", [("model.max_output_tokens", 1024)],
     [("model.max_output_tokens", 2048)], "must be below context_tokens"),
    ("gdpr eu", [("region", "eu-west-3")], [("region", "us-east-1")],
     "gdpr keeps data in the EU; us-east-1 is not an EU region"),
    ("gdpr secondary eu", [], [("dr.secondary_region", "us-east-1")],
     "dr.secondary_region: gdpr keeps data in the EU"),
    ("existing vpc subnets", [("security.network", {
        "vpc_id": "vpc-0123456789abcdef0",
        "private_subnet_ids": ["subnet-01234567", "subnet-01234568"],
        "public_subnet_ids": ["subnet-01234569", "subnet-0123456a"]})],
     [("security.network", {"vpc_id": "vpc-0123456789abcdef0",
                            "private_subnet_ids": ["subnet-01234567"]})],
     "an existing VPC needs at least 2 subnets"),
    ("weakening needs waiver", [("security.kms.rotation", False), ("security.waivers", [
        {"check": check, "resource": "*", "owner": "sec", "reason": "short-lived test key",
         "expires": "2027-01-01"} for check in ("CKV_AWS_7", "SSP_KMS_001")])],
     [("security.kms.rotation", False)], "needs a waiver for CKV_AWS_7 and SSP_KMS_001"),
    ("expired waiver", [], [("security.waivers", [
        {"check": "CKV_AWS_7", "resource": "*", "owner": "sec", "reason": "short-lived test key",
         "expires": "2026-11-23"}])], "waiver for CKV_AWS_7 expired on 2026-11-23"),
    ("unauthenticated needs waiver", [], [("serving.auth", "none")],
     "the API accepts unauthenticated calls"),
    ("warm standby multi-region keys", [], [("dr.strategy", "warm-standby")],
     "needs multi-Region keys"),
    ("active-active routing", [], [("dr.strategy", "active-active"),
                                   ("security.kms.multi_region", True)],
     "active-active needs security.tls.hosted_zone_id"),
]  # fmt: skip


@pytest.mark.parametrize(("valid", "invalid", "message"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])  # fmt: skip
def test_rule(tmp_path: Path, valid: list, invalid: list, message: str) -> None:
    assert problems(tmp_path, changed(*valid)) == []
    found = problems(tmp_path, changed(*invalid))
    assert any(message in p for p in found), found


def test_hipaa_demands_retention_audit_and_backups(tmp_path: Path) -> None:
    base = ("security.compliance", ["hipaa"])
    ok = changed(base, ("observability.log_retention_days", HIPAA_MIN_LOG_RETENTION_DAYS))
    assert problems(tmp_path, ok) == []
    short = problems(tmp_path, changed(base))
    assert any("hipaa requires at least 2192 days" in p for p in short)
    waived = [{"check": "SSP_AUDIT_001", "resource": "*", "owner": "sec",
               "reason": "trail lives in the org account", "expires": "2027-06-01"}]  # fmt: skip
    off = problems(tmp_path, changed(base, ("observability.log_retention_days", 2192),
                                     ("security.audit.cloudtrail", False),
                                     ("security.waivers", waived)))  # fmt: skip
    assert "security.audit.cloudtrail: hipaa requires this to be on (it cannot be waived)" in off


def test_overlay_fixes_base_and_errors_point_at_overlay(tmp_path: Path) -> None:
    data = changed(("environments.prod.scaling", {"min": 9, "max": 3}))
    path = write(tmp_path, data)
    with pytest.raises(SpecError) as info:
        load_spec(path, root=tmp_path, today=TODAY)
    [problem] = info.value.problems
    line = path.read_text().splitlines()[problem.line - 1]
    assert problem.field == "scaling.min" and "min: 9" in line


def test_overlay_explicit_false_overrides_true(tmp_path: Path) -> None:
    data = changed(("environments.staging.deployment", {"rollback_on_alarm": False}))
    loaded = load_spec(write(tmp_path, data), root=tmp_path, today=TODAY)
    assert loaded.resolve("staging").deployment.rollback_on_alarm is False
    assert loaded.resolve("prod").deployment.rollback_on_alarm is True


def test_overlay_lists_replace(tmp_path: Path) -> None:
    data = changed(("environments.prod.observability", {"alarms": {"notify": ["p@example.com"]}}))
    loaded = load_spec(write(tmp_path, data), root=tmp_path, today=TODAY)
    assert loaded.resolve("prod").observability.alarms.notify == ["p@example.com"]
    assert loaded.resolve("staging").observability.alarms.notify == ["oncall@example.com"]


def test_unknown_environment_is_an_error(tmp_path: Path) -> None:
    loaded = load_spec(write(tmp_path, example()), root=tmp_path, today=TODAY)
    with pytest.raises(SpecError, match="no environment 'qa'"):
        loaded.resolve("qa")


def test_capture_keeps_text_under_hipaa_only_with_a_waiver(tmp_path: Path) -> None:
    hipaa = ("security.compliance", ["hipaa"])
    retention = ("observability.log_retention_days", HIPAA_MIN_LOG_RETENTION_DAYS)
    text = ("observability.capture", {"enabled": True, "keep_text": True})
    assert problems(tmp_path, changed(text)) == []  # not hipaa: allowed
    refused = problems(tmp_path, changed(hipaa, retention, text))
    assert any(
        p.startswith("observability.capture.keep_text:") and "SSP_CAPTURE_001" in p for p in refused
    ), refused
    waived = [{"check": "SSP_CAPTURE_001", "resource": "*", "owner": "privacy",
               "reason": "de-identified by the caller before it reaches the API",
               "expires": "2027-06-01"}]  # fmt: skip
    assert problems(tmp_path, changed(hipaa, retention, text, ("security.waivers", waived))) == []
