"""Build spec files from the examples with one change, for rule tests."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "spec").glob("*.yaml"))


def example(name: str = "assistant") -> dict[str, Any]:
    return yaml.safe_load((ROOT / "spec" / f"{name}.yaml").read_text(encoding="utf-8"))


def set_path(data: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    """Return a copy of `data` with `a.b.c` set to `value` (creating mappings on the way)."""
    result = copy.deepcopy(data)
    node = result
    *parents, last = dotted.split(".")
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value
    return result


def write(tmp_path: Path, data: dict[str, Any], name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path
