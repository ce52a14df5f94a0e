"""JSON Schema for editors, and the spec reference page, both generated from the model.

Environment overlays have the base's shape but every field is optional, so the schema gives
them "partial" copies of each section's definition (same fields, nothing required).
"""

from __future__ import annotations

import copy
import json
import types
import typing
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from .model import OVERLAY_KEYS, DeploymentBody, Spec

SCHEMA_ID = "https://servespec.dev/schema/servespec-v1.json"


def json_schema() -> dict[str, Any]:
    """The spec's JSON Schema (draft 2020-12), overlays included."""
    schema = Spec.model_json_schema(by_alias=True, mode="validation")
    defs = schema.setdefault("$defs", {})
    partial_defs = {f"{name}Partial": _partial(body) for name, body in defs.items()}
    body = DeploymentBody.model_json_schema(by_alias=True, mode="validation")
    overlay = {
        "type": "object",
        "additionalProperties": False,
        "description": "Overlay merged onto the base: same shape, every field optional.",
        "properties": {key: _partial(body["properties"][key]) for key in OVERLAY_KEYS},
    }
    defs.update(partial_defs)
    defs["EnvironmentOverlay"] = overlay
    environments = schema["properties"]["environments"]
    environments["patternProperties"] = {
        pattern: {"$ref": "#/$defs/EnvironmentOverlay"}
        for pattern in environments["patternProperties"]
    }
    environments["additionalProperties"] = False
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}


def _partial(node: Any) -> Any:
    """Drop `required` everywhere and point references at the partial definitions."""
    node = copy.deepcopy(node)
    if isinstance(node, dict):
        node.pop("required", None)
        node.pop("default", None)  # an overlay's unset field keeps the base value, not this
        if isinstance(node.get("$ref"), str) and not node["$ref"].endswith("Partial"):
            node["$ref"] += "Partial"
        return {key: _partial(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_partial(item) for item in node]
    return node


def schema_text() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"


def reference_markdown() -> str:
    """Every field with its type, default and description, as one Markdown page."""
    lines = [
        "# Spec reference",
        "",
        "Generated from the spec model by `servespec schema --write`; do not edit.",
        "Environment overlays (`environments.<name>`) take any field below except",
        "`apiVersion`, `kind`, `metadata` and `environments`, with the same shape.",
        "",
        "| field | type | default | description |",
        "| --- | --- | --- | --- |",
    ]
    lines += _rows(Spec, "")
    return "\n".join(lines) + "\n"


def _rows(model: type[BaseModel], prefix: str) -> list[str]:
    rows: list[str] = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{field.alias or name}"
        description = (field.description or "").replace("\n", " ").replace("|", "\\|")
        rows.append(
            f"| `{key}` | {_type_name(field.annotation)} | {_default(field)} | {description} |"
        )
        nested = _section(field.annotation)
        if nested is not None:
            suffix = "[]." if typing.get_origin(field.annotation) is list else "."
            rows += _rows(nested, key + suffix)
    return rows


def _default(field: Any) -> str:
    if field.default is PydanticUndefined:
        return "required"
    value = field.default
    if isinstance(value, BaseModel):
        return "(section defaults)"
    return f"`{json.dumps(value, default=str)}`"


def _section(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _section(arg)
        if found is not None:
            return found
    return None


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin is typing.Literal:
        return " \\| ".join(f"`{json.dumps(arg)}`" for arg in args)
    if origin in (typing.Union, types.UnionType):
        return " \\| ".join(_type_name(arg) for arg in args)
    if origin is list:
        return f"list of {_type_name(args[0])}"
    if origin is dict:
        return f"map of {_type_name(args[1])}"
    if annotation is type(None):
        return "null"
    return getattr(annotation, "__name__", str(annotation))
