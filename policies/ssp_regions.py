"""Regions each compliance profile allows; plain data so tests can compare it with the spec's.

Mirrors compiler.spec.regions.EU_REGIONS (checkov runs in its own environment and cannot
import the compiler); tests/policies/test_regions.py keeps the two equal.
"""

from __future__ import annotations

# GDPR keeps personal data in the EU: London and Zurich are outside it.
EU_REGIONS: frozenset[str] = frozenset(
    {"eu-central-1", "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1", "eu-west-3"}
)

# A profile not listed here restricts no region.
PROFILE_REGIONS: dict[str, frozenset[str]] = {"gdpr": EU_REGIONS}
