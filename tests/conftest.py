"""Shared pytest wiring: golden regeneration and the fixtures other test packages provide."""

from __future__ import annotations

import pytest

# Shared fixtures: the real model artifact (built once, cached) and a moto_server process.
pytest_plugins = ["tests.conftest_artifact", "tests.conftest_moto"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--regen-golden",
        action="store_true",
        help="Rewrite golden files from the current output instead of comparing.",
    )


@pytest.fixture
def regen_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--regen-golden"))
