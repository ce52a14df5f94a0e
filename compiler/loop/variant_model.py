"""The model of one A/B variant: the spec's model under the variant's version, with the
variant's own source, adapter or quantization where it names them.

Every variant's artifact must exist before its service starts, so the deploy builds and
pushes each one (`servespec model build|push SPEC --env ENV --variant NAME`); pushing a
version that is already in the bucket skips identical files, so unchanged variants cost
one listing.
"""

from __future__ import annotations

from typing import Any

from compiler.spec import ResolvedSpec


class UnknownVariant(ValueError):
    pass


def variant_model(spec: ResolvedSpec, name: str) -> Any:
    """The ModelSpec the named variant serves."""
    found = {v.name: v for v in spec.variants}
    if name not in found:
        known = ", ".join(found) or "none"
        raise UnknownVariant(f"no variant '{name}' in {spec.environment} (variants: {known})")
    variant = found[name]
    update: dict[str, Any] = {"version": variant.model_version}
    if variant.model is not None:
        update["adapter"] = variant.model.adapter
        if variant.model.source is not None:
            update["source"] = variant.model.source
        if variant.model.quantization is not None:
            update["quantization"] = variant.model.quantization
    # Without `model`, the variant serves the spec's weights under its own version prefix.
    return spec.model.model_copy(update=update)


def variants_plan(spec: ResolvedSpec) -> list[dict[str, str]]:
    """What the deploy workflow iterates over: one build and push per variant."""
    return [
        {"name": v.name, "model_version": v.model_version, "weight": str(v.weight)}
        for v in spec.variants
    ]
