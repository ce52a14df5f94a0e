"""summarize_change: the sentences reviewers read first, for the fields they care about most."""

from __future__ import annotations

import datetime as dt

from compiler.spec import ResolvedSpec
from compiler.spec.model import Variant, Waiver
from compiler.workflows.summary import MISSING, diff_specs, show, summarize_change

from .helpers import environments, fixture_environments, with_value


def prod(name: str = "") -> ResolvedSpec:
    """prod of an example spec, or of the frozen clinical-notes fixture by default."""
    envs = environments(name) if name else fixture_environments()
    return next(s for s in envs if s.environment == "prod")


def test_identical_specs_have_no_change() -> None:
    assert summarize_change(prod(), prod()) == []


def test_provenance_is_not_a_change() -> None:
    after = with_value(prod(), "source_sha256", "0" * 64)
    assert summarize_change(prod(), with_value(after, "source_path", "elsewhere.yaml")) == []


def test_scaling_uses_the_dotted_path() -> None:
    spec = with_value(prod("assistant"), "scaling.max", 6)
    assert summarize_change(spec, with_value(spec, "scaling.max", 8)) == ["scaling.max 6 → 8"]


def test_canary_traffic() -> None:
    spec = with_value(prod("assistant"), "deployment.canary_percent", 10)
    after = with_value(spec, "deployment.canary_percent", 5)
    assert summarize_change(spec, after) == ["canary traffic 10 % → 5 %"]


def test_model_version() -> None:
    spec = with_value(prod(), "model.version", "2026-11-01")
    after = with_value(spec, "model.version", "2026-11-20")
    assert summarize_change(spec, after) == ["model version 2026-11-01 → 2026-11-20"]


def test_new_and_removed_alarm_recipients() -> None:
    before = prod()
    after = with_value(before, "observability.alarms.notify", ["security@example.com", "x@y.io"])
    assert summarize_change(before, after) == [
        "new alarm recipient x@y.io",
        "alarm recipient health-ml-oncall@example.com removed",
    ]


def test_recipient_order_alone_is_not_a_change() -> None:
    before = prod()
    notify = list(reversed(before.observability.alarms.notify))
    assert summarize_change(before, with_value(before, "observability.alarms.notify", notify)) == []


def test_variant_weights_are_matched_by_name() -> None:
    before = prod()
    after = with_value(
        before,
        "variants",
        [
            Variant(name="candidate", model_version="2026-11-20", weight=20),
            Variant(name="current", model_version="2026-11-01", weight=80),
        ],
    )
    assert summarize_change(before, after) == [
        "variant candidate weight 10 % → 20 %",
        "variant current weight 90 % → 80 %",
    ]


def test_new_and_removed_variants() -> None:
    before = prod()
    after = with_value(
        before,
        "variants",
        [
            Variant(name="current", model_version="2026-11-01", weight=95),
            Variant(name="tiny", model_version="2026-12-01", weight=5),
        ],
    )
    assert summarize_change(before, after) == [
        "variant current weight 90 % → 95 %",
        "new variant tiny: model 2026-12-01, weight 5 %",
        "variant candidate removed",
    ]


def test_new_waiver_says_who_why_and_until_when() -> None:
    before = prod()
    waiver = Waiver(
        check="CKV_AWS_7",
        resource="aws_kms_key.main",
        owner="security",
        reason="rotation handled by the HSM",
        expires=dt.date(2027, 1, 31),
    )
    after = with_value(before, "security.waivers", [waiver])
    assert summarize_change(before, after) == [
        "new waiver CKV_AWS_7 on aws_kms_key.main until 2027-01-31 "
        "(owner security: rotation handled by the HSM)"
    ]


def test_security_control_turned_off_is_called_out() -> None:
    before = prod()
    after = with_value(before, "security.audit.guardduty", False)
    assert summarize_change(before, after) == [
        "security.audit.guardduty true → false (a security control is turned off)"
    ]


def test_unset_optional_value_and_floats_read_naturally() -> None:
    before = prod("assistant")
    after = with_value(before, "security.tls.hosted_zone_id", "Z0123456789")
    after = with_value(after, "observability.alarms.error_rate_percent", 0.5)
    assert summarize_change(before, after) == [
        "security.tls.hosted_zone_id unset → Z0123456789",
        "error-rate alarm 1 % → 0.5 %",
    ]


def test_new_environment() -> None:
    assert summarize_change(None, prod()) == [
        "new environment prod: clinical-notes in us-east-1, model clinical-notes-llm 2026-11-20"
    ]


def test_changes_carry_paths_and_values_for_tools() -> None:
    before = prod()
    change = diff_specs(before, with_value(before, "scaling.min", 4))[0]
    assert (change.path, change.before, change.after) == ("scaling.min", 3, 4)


def test_show() -> None:
    assert [show(True), show(None), show(MISSING), show(2.0), show(["a", 1])] == [
        "true",
        "unset",
        "unset",
        "2",
        "[a, 1]",
    ]
