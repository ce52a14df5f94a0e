"""The policies' GDPR region list is the spec validator's list (they cannot share code)."""

from __future__ import annotations

import importlib.util

from compiler.spec.regions import EU_REGIONS

from .conftest import POLICIES


def test_policy_eu_regions_match_spec() -> None:
    spec = importlib.util.spec_from_file_location("ssp_regions", POLICIES / "ssp_regions.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.EU_REGIONS == EU_REGIONS
    assert module.PROFILE_REGIONS["gdpr"] == EU_REGIONS
