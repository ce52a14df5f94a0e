"""Render the image files of one deployment from its resolved environments."""

from __future__ import annotations

from pathlib import Path

import jinja2

from compiler.artifacts import Artifact
from compiler.provenance import provenance
from compiler.spec import ResolvedSpec

HERE = Path(__file__).parent
# python:3.11-slim as a multi-arch index digest; bump deliberately (and rebuild the lock,
# whose wheels are for CPython 3.11), never by tag drift.
BASE_IMAGE = (
    "python:3.11-slim@sha256:9c900dea9e8fb7e16277c179b555cc72d29a352dbc33cff48ad5a0412fd5bfc7"
)
# Paths the runtime writes under a read-only root: declared VOLUME in the image (so Fargate's
# bind mounts copy their owner, the non-root user) and mounted by the task definition.
CACHE_DIR = "/var/cache/servespec"
WRITABLE_PATHS = ("/tmp", CACHE_DIR)
UID = 10001  # non-root, outside the range of system users in the base image

_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
    autoescape=False,
)


def image_dir(spec: ResolvedSpec) -> str:
    return f"generated/{spec.metadata.name}/image"


def emit_image(envs: tuple[ResolvedSpec, ...]) -> list[Artifact]:
    """Dockerfile, requirements.lock and Dockerfile.dockerignore for one deployment.

    One image serves every environment: what differs between them (keys, limits, artifact
    URI) reaches the container as ``SERVESPEC_*`` variables from the task definition.
    """
    if not envs:
        return []
    first = envs[0]
    directory = image_dir(first)
    # The committed lock, copied under a header that names its source (pip skips comments).
    lock_header = provenance(__name__, "compiler/image/requirements.lock")
    lock = f"# {lock_header}\n" + (HERE / "requirements.lock").read_text()
    context = {
        "base_image": BASE_IMAGE,
        "uid": UID,
        "name": first.metadata.name,
        "source_path": first.source_path,
        "provenance": provenance(__name__, first.source_path),
        "lock_path": f"{directory}/requirements.lock",
        "ports": sorted({spec.serving.port for spec in envs}),
        "default_port": first.serving.port,
        "cache_dir": CACHE_DIR,
        "writable_paths": list(WRITABLE_PATHS),
        "grace_s": max(spec.serving.shutdown_grace_s for spec in envs),
    }
    return [
        Artifact(f"{directory}/Dockerfile", _render("Dockerfile.jinja", context)),
        Artifact(f"{directory}/Dockerfile.dockerignore", _render("dockerignore.jinja", context)),
        Artifact(f"{directory}/requirements.lock", lock),
    ]


def _render(template: str, context: dict[str, object]) -> str:
    return _TEMPLATES.get_template(template).render(**context)
