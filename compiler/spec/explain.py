"""`servespec explain`: the resolved environment, value by value, with its origin.

A reviewer asking "why does prod have 3 AZs?" gets the answer from one listing: each value
is marked as set by the environment overlay, by the base spec (with its line), or a default.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from .loader import Layered
from .yaml_source import Path, dotted

_SKIP = {"environment", "environments", "source_path", "source_sha256"}


def explain(layer: Layered) -> str:
    spec = layer.spec
    rows = list(_leaves(spec.model_dump(mode="json", by_alias=True, exclude=_SKIP), ()))
    width = max(len(f"{dotted(path)}: {_show(value)}") for path, value in rows)
    out = [f"# {spec.source_path} — environment {spec.environment}", ""]
    for path, value in rows:
        text = f"{dotted(path)}: {_show(value)}"
        out.append(f"{text.ljust(width)}  # {_origin(layer, path)}")
    out.append("")
    out.append(
        f"# derived: az_count = {spec.az_count}, metrics namespace = {spec.metrics_namespace}"
    )
    return "\n".join(out) + "\n"


def _leaves(value: Any, path: Path) -> Iterator[tuple[Path, Any]]:
    if isinstance(value, dict) and value:
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        for index, item in enumerate(value):
            yield from _leaves(item, (*path, index))
    else:
        yield path, value


def _origin(layer: Layered, path: Path) -> str:
    # Exact paths only: mappings merge key by key, so a parent set by the overlay does not
    # mean its other children were (lists replace whole, but then every item is recorded).
    if path in layer.overlay_paths:
        return f"environments.{layer.spec.environment} (line {layer.positions[path][0]})"
    if path in layer.positions:
        return f"spec (line {layer.positions[path][0]})"
    return "default"


def _show(value: Any) -> str:
    return value if isinstance(value, str) and value and "\n" not in value else json.dumps(value)
