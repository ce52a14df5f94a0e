"""The one table of secure defaults a spec may switch off, and the checks each one trips.

`validate` reads it to demand a waiver for every check a weakening makes the gate fail; the
gate reads it to print the spec change as the fix. A test compiles each weakening, runs the
gate over it, and proves `trips` is exactly what fails (tests/policies/test_governance.py).

A few weakenings trip no gate check (the generated stack has no resource to fail: CloudTrail
or Config turned off, an API without keys). Their ids are `recorded` ones: the waiver is the
only record that someone accepted the risk, and no policy by that id exists.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the spec package imports this table; only the type goes the other way
    from compiler.spec.model import ResolvedSpec


@dataclass(frozen=True)
class Switch:
    """A secure default the spec can turn off; off only with a waiver for each of `trips`."""

    field: str
    """Dotted spec path, as validate reports it: `security.waf.enabled`."""
    secure: str
    """The spec value that restores the default: the gate's fix text."""
    what: str
    """What turning it off means, in words a reviewer reads."""
    trips: tuple[str, ...]
    """Every check the gate fails when the default is off (built-in and ours)."""
    off: Callable[[ResolvedSpec], bool]
    recorded: tuple[str, ...] = ()
    """Ids in `trips` that no gate check carries: the waiver is the record."""

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(self.field.split("."))

    def fix(self, check: str) -> str:
        return f"set {self.field}: {self.secure} in the spec, or waive {check} in security.waivers"


SWITCHES: tuple[Switch, ...] = (
    Switch(
        "security.kms.rotation",
        "true",
        "KMS key rotation is off",
        ("CKV_AWS_7", "SSP_KMS_001"),
        lambda s: not s.security.kms.rotation,
    ),
    Switch(
        "security.waf.enabled",
        "true",
        "the load balancer has no WAF",
        ("CKV2_AWS_28", "SSP_WAF_001"),
        lambda s: not s.security.waf.enabled,
    ),
    Switch(
        "security.audit.cloudtrail",
        "true",
        "CloudTrail is off",
        ("SSP_AUDIT_001",),
        lambda s: not s.security.audit.cloudtrail,
        recorded=("SSP_AUDIT_001",),
    ),
    Switch(
        "security.audit.config_rules",
        "true",
        "AWS Config is off",
        ("SSP_AUDIT_002",),
        lambda s: not s.security.audit.config_rules,
        recorded=("SSP_AUDIT_002",),
    ),
    Switch(
        "observability.log_retention_days",
        "365 or more",
        "logs are kept less than a year",
        ("CKV_AWS_338",),
        lambda s: s.observability.log_retention_days < 365,
    ),
    Switch(
        "serving.auth",
        "api_key",
        "the API accepts unauthenticated calls",
        ("SSP_API_001",),
        lambda s: s.serving.auth == "none",
        recorded=("SSP_API_001",),
    ),
    Switch(
        "backups.enabled",
        "true",
        "backups are off",
        ("SSP_BAK_002",),
        lambda s: not s.backups.enabled,
    ),
    Switch(
        "observability.capture.keep_text",
        "false",
        "captured requests keep prompt and completion text under hipaa",
        ("SSP_CAPTURE_001",),
        lambda s: (
            s.observability.capture.enabled
            and s.observability.capture.keep_text
            and "hipaa" in s.security.compliance
        ),
        recorded=("SSP_CAPTURE_001",),
    ),
)


def switch_for(check: str) -> Switch | None:
    """The switch whose weakening trips `check`, if the spec governs it that way."""
    return next((switch for switch in SWITCHES if check in switch.trips), None)


def missing_waivers(spec: ResolvedSpec) -> list[tuple[Switch, list[str]]]:
    """Each weakening of `spec` with the checks it trips that no waiver covers."""
    waived = {waiver.check for waiver in spec.security.waivers}
    found = []
    for switch in SWITCHES:
        missing = [check for check in switch.trips if check not in waived]
        if switch.off(spec) and missing:
            found.append((switch, missing))
    return found
