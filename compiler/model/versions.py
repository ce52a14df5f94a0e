"""Tool versions: part of every cache key, and recorded in the manifest."""

from __future__ import annotations

from importlib import metadata

PIPELINE_VERSION = "2"  # 2: fused graphs return last-position logits only
TOOLS = (
    "gguf",
    "numpy",
    "onnx",
    "onnxruntime",
    "optimum",
    "optimum-onnx",
    "peft",
    "tokenizers",
    "torch",
    "transformers",
)


def tool_versions() -> dict[str, str]:
    """Installed versions of the packages that shape the artifact's bytes."""
    versions = {}
    for name in TOOLS:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions
