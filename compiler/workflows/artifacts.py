"""The model artifacts one environment's deploy needs: one per A/B variant, or the model.

Every variant's service downloads its own `models/<name>/<version>/`, so the deploy must
build and push each variant's artifact (issue 14: the 90 % variant of a fresh account would
not exist otherwise). The list is fixed by the reviewed spec, so the workflow names every
artifact statically (`servespec model variants` prints the same list at run time); each one
has its own presence output, build output and push step, keyed by `suffix`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from compiler.loop.variant_model import variant_model
from compiler.spec import ResolvedSpec


@dataclass(frozen=True)
class Artifact:
    variant: str  # "" for the spec's model itself (no variants)
    version: str

    @property
    def suffix(self) -> str:
        """Output-key suffix: `model_present<suffix>`, `model_sha256_<env><suffix>`."""
        return f"_{self.variant.replace('-', '_')}" if self.variant else ""

    def directory(self, env: str) -> str:
        """Directory of the built artifact inside the release."""
        return f"model-{env}-{self.variant}" if self.variant else f"model-{env}"

    @property
    def label(self) -> str:
        return f" (variant {self.variant})" if self.variant else ""


def artifacts(spec: ResolvedSpec) -> list[Artifact]:
    if not spec.variants:
        return [Artifact("", spec.model.version)]
    return [Artifact(v.name, v.model_version) for v in spec.variants]


def build_key(spec: ResolvedSpec) -> str:
    """Equal for environments whose artifacts are built identically (built once for both)."""
    if not spec.variants:
        return spec.model.model_dump_json()
    return json.dumps(
        [[v.name, variant_model(spec, v.name).model_dump_json()] for v in spec.variants]
    )


def presence_keys(spec: ResolvedSpec) -> list[str]:
    """`release status` output keys: the aggregate `model_present`, then one per variant."""
    return ["model_present", *(f"model_present{a.suffix}" for a in artifacts(spec) if a.suffix)]
