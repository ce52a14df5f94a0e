"""Compile specs into files, write them atomically, or check that the committed ones are fresh.

A deployment owns `generated/<name>/` and `.github/workflows/servespec-<name>-*.yml`. All of
its files are rendered in memory first; only then is anything on disk touched, so a failing
emitter leaves the previous output exactly as it was.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from . import __version__
from .artifacts import Artifact
from .emitters import EMITTERS
from .fsutil import write_atomic
from .spec import LoadedSpec
from .terraform.account import emit as account_roots

GENERATED = "generated"
WORKFLOWS = ".github/workflows"


def deployment_dir(name: str) -> str:
    return f"{GENERATED}/{name}"


def workflow_glob(name: str) -> str:
    return f"servespec-{name}-*.yml"


def render(loaded: LoadedSpec) -> list[Artifact]:
    """Every file of one deployment, manifest included, sorted by path."""
    environments = loaded.environments
    artifacts = [artifact for emit in EMITTERS for artifact in emit(environments)]
    name = loaded.spec.metadata.name
    _check_paths(name, artifacts)
    return sorted([*artifacts, _manifest(loaded, artifacts)])


ACCOUNTS = "accounts"  # generated/accounts/: one root per AWS account, across every spec


def render_accounts(loaded: list[LoadedSpec]) -> list[Artifact]:
    """The account roots of all specs, with a manifest naming the specs they came from."""
    environments = [env for spec in loaded for env in spec.environments]
    artifacts = account_roots(environments)
    document = {
        "compiler": {"name": "servespec", "version": __version__},
        "specs": {spec.path: spec.sha256 for spec in sorted(loaded, key=lambda s: s.path)},
        "files": {artifact.path: sha256_text(artifact.content) for artifact in artifacts},
    }
    text = json.dumps(document, indent=2, sort_keys=True) + "\n"
    return sorted([*artifacts, Artifact(f"{deployment_dir(ACCOUNTS)}/manifest.json", text)])


def _check_paths(name: str, artifacts: list[Artifact]) -> None:
    seen: set[str] = set()
    for artifact in artifacts:
        path = PurePosixPath(artifact.path)
        inside = path.parts[:2] == (GENERATED, name) or (
            str(path.parent) == WORKFLOWS and path.match(workflow_glob(name))
        )
        if not inside or ".." in path.parts or artifact.path in seen:
            raise ValueError(f"emitter produced a path outside its deployment: {artifact.path}")
        seen.add(artifact.path)


def _manifest(loaded: LoadedSpec, artifacts: list[Artifact]) -> Artifact:
    document = {
        "generated_by": __name__,
        "compiler": {"name": "servespec", "version": __version__},
        "spec": {"path": loaded.path, "sha256": loaded.sha256},
        "environments": list(loaded.layers),
        "files": {artifact.path: sha256_text(artifact.content) for artifact in sorted(artifacts)},
    }
    text = json.dumps(document, indent=2, sort_keys=True) + "\n"
    return Artifact(f"{deployment_dir(loaded.spec.metadata.name)}/manifest.json", text)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def owned_files(root: Path, name: str) -> set[str]:
    """Files on disk that belong to deployment `name`."""
    owned = {
        path.relative_to(root).as_posix()
        for path in (root / deployment_dir(name)).rglob("*")
        if path.is_file()
    }
    workflows = root / WORKFLOWS
    if workflows.is_dir():
        owned |= {f"{WORKFLOWS}/{p.name}" for p in workflows.glob(workflow_glob(name))}
    return owned


@dataclass(frozen=True)
class Finding:
    """Why the committed output differs from what the compiler produces."""

    path: str
    kind: str  # missing | stale | hand-edited | extra

    def render(self) -> str:
        advice = {
            "missing": "not committed; run `servespec compile`",
            "stale": "out of date with the spec or compiler; run `servespec compile`",
            "hand-edited": "edited by hand; change the spec instead, then `servespec compile`",
            "extra": "not produced by the compiler; remove it or run `servespec compile`",
        }[self.kind]
        return f"{self.path}: {self.kind}: {advice}"


def check(root: Path, name: str, artifacts: list[Artifact]) -> list[Finding]:
    """Compare one deployment's rendered files with what is committed under `root`."""
    recorded = _recorded_hashes(root, name)
    findings = []
    for artifact in artifacts:
        path = root / artifact.path
        if not path.is_file():
            findings.append(Finding(artifact.path, "missing"))
            continue
        on_disk = path.read_bytes()
        if on_disk == artifact.content.encode("utf-8"):
            continue
        digest = hashlib.sha256(on_disk).hexdigest()
        # The manifest records the others' hashes, not its own: a changed one is stale.
        was_generated = (
            artifact.path.endswith("/manifest.json") or recorded.get(artifact.path) == digest
        )
        findings.append(Finding(artifact.path, "stale" if was_generated else "hand-edited"))
    expected = {artifact.path for artifact in artifacts}
    findings += [Finding(path, "extra") for path in sorted(owned_files(root, name) - expected)]
    return findings


def _recorded_hashes(root: Path, name: str) -> dict[str, str]:
    manifest = root / deployment_dir(name) / "manifest.json"
    try:
        files = json.loads(manifest.read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return files if isinstance(files, dict) else {}


def write(root: Path, name: str, artifacts: list[Artifact]) -> None:
    """Replace one deployment's files: build its directory aside, then swap it in."""
    target = root / deployment_dir(name)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=target.parent))
    try:
        for artifact in artifacts:
            if artifact.path.startswith(f"{deployment_dir(name)}/"):
                relative = artifact.path[len(deployment_dir(name)) + 1 :]
                (staging / relative).parent.mkdir(parents=True, exist_ok=True)
                (staging / relative).write_text(artifact.content, encoding="utf-8", newline="\n")
        _swap(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _write_outside(root, name, artifacts)


def _swap(staging: Path, target: Path) -> None:
    old = target.with_name(f".{target.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def _write_outside(root: Path, name: str, artifacts: list[Artifact]) -> None:
    """Workflow files live outside generated/: write each atomically, drop stale ones."""
    expected = {a.path for a in artifacts if a.path.startswith(f"{WORKFLOWS}/")}
    for artifact in artifacts:
        if artifact.path in expected:
            write_atomic(root / artifact.path, artifact.content)
    workflows = root / WORKFLOWS
    if workflows.is_dir():
        for path in workflows.glob(workflow_glob(name)):
            if f"{WORKFLOWS}/{path.name}" not in expected:
                path.unlink()


def remove_deployment(root: Path, name: str) -> None:
    """A spec was deleted: its generated directory and workflows go with it."""
    shutil.rmtree(root / deployment_dir(name), ignore_errors=True)
    _write_outside(root, name, [])
