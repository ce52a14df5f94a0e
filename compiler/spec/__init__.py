"""The deployment spec: typed model, YAML loader with located errors, cross-field rules."""

from pathlib import Path

from .errors import Problem, SpecError
from .loader import LoadedSpec, load_spec
from .model import (
    Adapter,
    ModelSpec,
    Quantization,
    ResolvedSpec,
    Spec,
)

__all__ = [
    "Adapter",
    "LoadedSpec",
    "ModelSpec",
    "Problem",
    "Quantization",
    "ResolvedSpec",
    "Spec",
    "SpecError",
    "load_resolved",
    "load_spec",
]


def load_resolved(path: str | Path, env: str) -> ResolvedSpec:
    """Load a spec file and resolve one environment (raises SpecError)."""
    return load_spec(Path(path)).resolve(env)
