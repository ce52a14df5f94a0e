"""What emitters return: files as data, written to disk by the compile step alone."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Artifact:
    """One generated file; `path` is POSIX, relative to the repository root."""

    path: str
    content: str
