"""Regenerate ``requirements.lock``: the runtime image's dependencies, pinned with hashes.

Versions come from the project's current virtual environment (what the tests ran with);
hashes come from the wheels pip downloads for the image's platforms. Run it after changing
runtime dependencies, then commit the lock:

    .venv/bin/python -m compiler.image.lockfile

Compile itself never runs this (no network at compile time): the emitter copies the
committed lock into ``generated/<deployment>/image/``.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename

LOCK = Path(__file__).with_name("requirements.lock")
# What ``runtime/`` imports. No torch, no transformers, no click (the image runs
# ``python -m runtime``; uvicorn still pulls click in).
ROOTS = (
    "onnxruntime",
    "numpy",
    "tokenizers",
    "jinja2",
    "starlette",
    "uvicorn",
    "prometheus-client",
    "pydantic",
    "boto3",
    "llguidance",
)
# tokenizers declares huggingface-hub for ``Tokenizer.from_pretrained`` (downloads from the
# Hub); the runtime only reads tokenizer.json from the artifact, and the image must not
# reach the Hub. Leaving it out drops ten packages (requests, tqdm, hf-xet, ...).
EXCLUDED = frozenset({"huggingface-hub"})
# python:3.11-slim is Debian (glibc 2.36): manylinux_2_31 wheels (llguidance's) install.
PLATFORMS = (
    "manylinux2014_x86_64",
    "manylinux_2_28_x86_64",
    "manylinux_2_31_x86_64",
    "manylinux2014_aarch64",
    "manylinux_2_28_aarch64",
    "manylinux_2_31_aarch64",
)
MARKERS = {
    "python_version": "3.11",
    "python_full_version": "3.11.0",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "os_name": "posix",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "extra": "",
}


def closure() -> dict[str, str]:
    """Installed name → version for ROOTS and everything they require (minus EXCLUDED)."""
    found: dict[str, str] = {}
    stack = list(ROOTS)
    while stack:
        name = canonicalize_name(stack.pop())
        if name in found or name in EXCLUDED:
            continue
        dist = metadata.distribution(name)
        found[name] = dist.version
        for line in dist.requires or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate(MARKERS):
                stack.append(requirement.name)
    return dict(sorted(found.items()))


def wheel_hashes(pins: dict[str, str], work: Path) -> dict[str, set[str]]:
    hashes: dict[str, set[str]] = {name: set() for name in pins}
    for arch in ("x86_64", "aarch64"):
        platforms = [arg for p in PLATFORMS if p.endswith(arch) for arg in ("--platform", p)]
        target = work / arch
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--only-binary=:all:",
                "--python-version",
                "3.11",
                "--implementation",
                "cp",
                *platforms,
                "-d",
                str(target),
                *(f"{n}=={v}" for n, v in pins.items()),
            ],
            check=True,
        )
        for wheel in target.glob("*.whl"):
            name = canonicalize_name(parse_wheel_filename(wheel.name)[0])
            hashes[name].add(hashlib.sha256(wheel.read_bytes()).hexdigest())
    return hashes


def render(pins: dict[str, str], hashes: dict[str, set[str]]) -> str:
    lines = [
        "# The runtime image's Python dependencies, pinned with hashes (pip --require-hashes).",
        "# Regenerate: .venv/bin/python -m compiler.image.lockfile",
        "# Platforms: CPython 3.11, manylinux x86_64 and aarch64.",
    ]
    for name, version in pins.items():
        entry = f"{name}=={version}"
        for digest in sorted(hashes[name]):
            entry += f" \\\n    --hash=sha256:{digest}"
        lines.append(entry)
    return "\n".join(lines) + "\n"


def parse(text: str) -> dict[str, str]:
    """The lock's pins, name → version (used by the emitter's tests)."""
    return dict(re.findall(r"^([a-z0-9-]+)==(\S+)", text, flags=re.MULTILINE))


def main() -> None:
    pins = closure()
    with tempfile.TemporaryDirectory() as work:
        hashes = wheel_hashes(pins, Path(work))
    missing = sorted(name for name, found in hashes.items() if not found)
    if missing:
        raise SystemExit(f"no wheel found for: {', '.join(missing)}")
    LOCK.write_text(render(pins, hashes))
    print(f"wrote {LOCK} ({len(pins)} packages)")


if __name__ == "__main__":
    main()
