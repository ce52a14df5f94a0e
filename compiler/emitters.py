"""The emitters `servespec compile` runs, listed explicitly, in output order.

Each takes every resolved environment of one deployment and returns files as data; none
reads YAML, touches the disk or the network.
"""

from __future__ import annotations

from collections.abc import Callable

from . import runbook, terraform, workflows
from .artifacts import Artifact
from .image.emit import emit_image
from .spec import ResolvedSpec
from .terraform import github

Emitter = Callable[[tuple[ResolvedSpec, ...]], list[Artifact]]

EMITTERS: tuple[Emitter, ...] = (
    terraform.emit,
    github.emit,
    runbook.emit,
    workflows.emit,
    emit_image,
)
