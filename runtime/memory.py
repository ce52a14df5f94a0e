"""Handing freed memory back to the operating system once the engine goes idle.

A burst of long generations grows the KV buffers to hundreds of MiB; when the batch drains
they are freed, but glibc keeps freed blocks in its heaps for reuse (its mmap threshold
rises to 32 MiB as large blocks are freed, so later buffers come from the heap too), and
the process's RSS stays at the burst's high-water mark. ``malloc_trim(0)`` returns the free
pages of every heap. Measured after 16 generations of 400 tokens on ~300-token prompts:
1.6 GiB resident before, 0.44 GiB after. It takes ~20 ms with 1 GiB free and ~0.3 ms with
nothing to free, on the engine thread while it has no work. Where the C library has no
``malloc_trim`` (musl, macOS) this does nothing.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable


def _malloc_trim() -> Callable[[int], int] | None:
    try:
        trim: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


_TRIM = _malloc_trim()


def release() -> bool:
    """Return freed heap memory to the OS; whether the C library could."""
    if _TRIM is None:
        return False
    _TRIM(0)
    return True
