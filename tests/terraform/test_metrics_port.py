"""The runtime's Prometheus /metrics listens on its own port (runtime/settings.py
metrics_port): nothing in AWS may reach it. The load balancer's target groups and every
security-group rule toward the tasks name serving.port only, and the container maps only it.
"""

from __future__ import annotations

import dataclasses
import re

import pytest

from runtime.settings import Settings

from .support import artifacts, environments

EXAMPLES = ("assistant", "clinical-notes")


@pytest.mark.parametrize("example", EXAMPLES)
def test_only_the_serving_port_is_reachable(example: str) -> None:
    metrics = next(f.default for f in dataclasses.fields(Settings) if f.name == "metrics_port")
    texts = {a.path: a.content for a in artifacts(example) if a.path.endswith(".tf")}
    for spec in environments(example):
        port = spec.serving.port
        assert port != metrics
        root = [t for p, t in texts.items() if f"/{spec.environment}/terraform/" in p]
        text = "\n".join(root)
        assert str(metrics) not in text
        # Target groups: the API's port only.
        assert set(re.findall(r"^  port\s+= (\d+)$", text, re.M)) <= {"80", "443", str(port)}
        # The container definition maps the serving port and nothing else.
        mappings = re.findall(r"portMappings\s*=\s*\[([^\]]*)\]", text)
        assert mappings
        for mapping in mappings:
            assert set(re.findall(r"Port\s*=\s*(\d+)", mapping)) == {str(port)}
