"""Find the model artifact (directory or ``s3://``) and prove it is the one the manifest names.

Every file listed in ``manifest.json`` must exist with the recorded size and sha256 before the
model is opened: a tampered or half-copied artifact must keep the server not-ready, never
serve.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
FORMAT = "servespec-model/1"
_CHUNK = 1 << 20


class ArtifactError(RuntimeError):
    """The artifact is missing, incomplete or does not match its manifest."""


@dataclasses.dataclass(frozen=True)
class GraphInfo:
    kv_heads: int
    head_dim: int
    num_layers: int
    has_position_ids: bool
    padding_side: str


@dataclasses.dataclass(frozen=True)
class Artifact:
    """A verified artifact directory and the facts the engine needs from its manifest."""

    root: Path
    name: str
    version: str
    context_tokens: int
    eos_token_ids: tuple[int, ...]
    pad_token_id: int
    graph: GraphInfo
    manifest: dict[str, Any]

    @property
    def model_path(self) -> Path:
        return self.root / "model.onnx"


def open_artifact(uri: str, *, cache_dir: Path, s3_endpoint_url: str | None = None) -> Artifact:
    """Fetch (if remote) and verify; raises ``ArtifactError`` with a one-line reason."""
    if uri.startswith("s3://"):
        root = download_s3(uri, cache_dir, endpoint_url=s3_endpoint_url)
    else:
        root = Path(uri)
    return verify(root)


# Every file the server reads must be covered by the manifest's hashes: a tokenizer or chat
# template left out of it could be swapped without the check noticing.
REQUIRED_FILES = frozenset({"model.onnx", "config.json", "tokenizer.json", "chat_template.jinja"})


def verify(root: Path) -> Artifact:
    manifest = _read_manifest(root)
    files = manifest.get("files")
    if not isinstance(files, dict) or not files.keys() >= REQUIRED_FILES:
        required = ", ".join(sorted(REQUIRED_FILES))
        raise ArtifactError(f"{root / MANIFEST}: 'files' must list {required}")
    for name, entry in sorted(files.items()):
        if not isinstance(entry, dict):
            raise ArtifactError(f"{root / MANIFEST}: entry for {name} is not an object")
        _verify_file(root, name, entry)
    return _artifact(root, manifest)


def download_s3(uri: str, dest: Path, *, endpoint_url: str | None = None) -> Path:
    """Copy ``s3://bucket/prefix/`` to ``dest``: the manifest first, then the files it lists.

    Only listed files are fetched, so an object planted beside the artifact is never read.
    Files already in ``dest`` with the right hash are kept (a restarted task skips them).
    """
    import boto3  # only the s3:// path needs it; a directory artifact works without boto3

    bucket, _, prefix = uri[len("s3://") :].partition("/")
    prefix = prefix.rstrip("/")
    client = boto3.client("s3", endpoint_url=endpoint_url)
    # One directory per URI: files of another artifact fetched earlier are never mixed in.
    dest = dest / hashlib.sha256(uri.encode()).hexdigest()[:16]
    dest.mkdir(parents=True, exist_ok=True)

    def key(name: str) -> str:
        return f"{prefix}/{name}" if prefix else name

    try:
        client.download_file(bucket, key(MANIFEST), str(dest / MANIFEST))
        files = _read_manifest(dest).get("files") or {}
        for name, entry in sorted(files.items()):
            target = dest / _safe_name(name)
            if not _matches(target, entry):
                client.download_file(bucket, key(name), str(target))
    except ArtifactError:
        raise
    except Exception as exc:  # botocore raises many types; all mean "could not fetch"
        raise ArtifactError(f"cannot download {uri}: {exc}") from exc
    return dest


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _read_manifest(root: Path) -> dict[str, Any]:
    path = root / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise ArtifactError(f"{path}: missing") from None
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"{path}: unreadable: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ArtifactError(f"{path}: format is not {FORMAT!r}")
    return manifest


def _safe_name(name: str) -> str:
    # Names come from a file we have not verified yet: refuse anything that leaves the root.
    if not name or name.startswith("/") or ".." in Path(name).parts:
        raise ArtifactError(f"manifest lists an unsafe file name: {name!r}")
    return name


def _matches(path: Path, entry: dict[str, Any]) -> bool:
    return (
        path.is_file()
        and path.stat().st_size == entry.get("size")
        and sha256_file(path) == entry.get("sha256")
    )


def _verify_file(root: Path, name: str, entry: dict[str, Any]) -> None:
    path = root / _safe_name(name)
    if not path.is_file():
        raise ArtifactError(f"{path}: missing (listed in {MANIFEST})")
    size = path.stat().st_size
    if size != entry.get("size"):
        raise ArtifactError(f"{path}: size {size} != manifest {entry.get('size')}")
    digest = sha256_file(path)
    if digest != entry.get("sha256"):
        raise ArtifactError(f"{path}: sha256 {digest} != manifest {entry.get('sha256')}")


def _artifact(root: Path, manifest: dict[str, Any]) -> Artifact:
    try:
        model = manifest["model"]
        tokenizer = manifest["tokenizer"]
        graph = manifest["graph"]
        eos = tuple(int(i) for i in tokenizer["eos_token_ids"])
        return Artifact(
            root=root,
            name=str(model["name"]),
            version=str(model.get("version", "")),
            context_tokens=int(manifest["context_tokens"]),
            eos_token_ids=eos,
            pad_token_id=int(tokenizer.get("pad_token_id", eos[0])),
            graph=GraphInfo(
                kv_heads=int(graph["kv_heads"]),
                head_dim=int(graph["head_dim"]),
                num_layers=int(graph["num_layers"]),
                has_position_ids=bool(graph["has_position_ids"]),
                padding_side=str(graph.get("padding_side", "left")),
            ),
            manifest=manifest,
        )
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise ArtifactError(f"{root / MANIFEST}: incomplete: {exc!r}") from None
