"""What the Terraform tests share: the example specs' output, goldens, and the external
tools (HashiCorp's formatter via node, checkov in its own environment)."""

from __future__ import annotations

import json
import shutil
import subprocess
from functools import cache
from pathlib import Path

from compiler.artifacts import Artifact
from compiler.spec import ResolvedSpec, load_spec
from compiler.terraform import emit
from compiler.terraform.schema_check import ProviderSchema

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ("assistant", "clinical-notes")
GOLDEN = ROOT / "tests" / "golden" / "terraform"
SCHEMA = ROOT / "tests" / "data" / "aws-provider-schema-6.47.0.json.gz"
HCLFMT = ROOT / "tests" / "tools" / "hclfmt.mjs"
REGEN_COMMAND = ".venv/bin/python -m tests.terraform.regen"


@cache
def environments(example: str) -> tuple[ResolvedSpec, ...]:
    return load_spec(ROOT / "spec" / f"{example}.yaml").environments


@cache
def artifacts(example: str) -> tuple[Artifact, ...]:
    return tuple(emit(environments(example)))


def golden_path(artifact: Artifact) -> Path:
    """generated/<deployment>/... -> tests/golden/terraform/<deployment>/..."""
    return GOLDEN / Path(artifact.path).relative_to("generated")


def write_tree(root: Path, found: tuple[Artifact, ...] | list[Artifact]) -> list[Path]:
    written = []
    for artifact in found:
        path = root / artifact.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(artifact.content, encoding="utf-8")
        written.append(path)
    return written


@cache
def schema() -> ProviderSchema:
    return ProviderSchema.load(SCHEMA)


def formatter_missing() -> str | None:
    """Why `terraform fmt` cannot run here, or None when it can."""
    if shutil.which("node") is None:
        return "node is not installed"
    if not (ROOT / "node_modules" / "@cdktf" / "hcl-tools").is_dir():
        return "@cdktf/hcl-tools is missing: run `npm ci` at the repository root"
    return None


def terraform_fmt(paths: list[Path]) -> dict[str, str]:
    """`terraform fmt` output of each file, from HashiCorp's formatter compiled to wasm."""
    done = subprocess.run(
        ["node", str(HCLFMT), *map(str, paths)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)
