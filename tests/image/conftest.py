from __future__ import annotations

from pathlib import Path

import pytest

from tests.runtime import builders


@pytest.fixture(scope="session")
def tiny_artifact() -> Path:
    return builders.tiny_artifact()
