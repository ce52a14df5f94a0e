"""The rehearsal image: the committed Dockerfile, built by podman on a local Debian base.

No registry can be reached, so the digest-pinned `FROM` cannot be pulled. A Debian bookworm
root filesystem with Python 3.11 is made once with mmdebstrap (cached by the content of its
recipe) and substituted for the pinned base in a temporary copy of the Dockerfile; the
committed file never changes, so the rehearsal image differs from production only in the base.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

SUITE = "bookworm"
PACKAGES = ("python3", "python3-venv", "python-is-python3", "ca-certificates")
FARGATE_NOFILE = 65535  # Fargate's default soft and hard nofile limit
FROM = re.compile(r"^(FROM\s+)(\S+)", re.MULTILINE)


class PodmanUnavailable(RuntimeError):
    """podman (with runc) or mmdebstrap cannot run on this machine."""


def podman() -> list[str]:
    """The podman command line prefix this machine needs (runc: crun rejects hybrid cgroups)."""
    return ["podman", "--runtime", "runc"]


def check_tools() -> None:
    missing = [tool for tool in ("podman", "runc", "mmdebstrap") if shutil.which(tool) is None]
    if missing:
        raise PodmanUnavailable(
            f"{', '.join(missing)} not installed (apt-get install -y podman runc mmdebstrap)"
        )
    probe = subprocess.run([*podman(), "info"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        tail = probe.stderr.strip().splitlines()[-1:] or ["no output"]
        raise PodmanUnavailable(f"podman cannot run here: {tail[0]}")


def base_key() -> str:
    recipe = f"mmdebstrap minbase {SUITE} {','.join(PACKAGES)}"
    return hashlib.sha256(recipe.encode()).hexdigest()[:12]


def ulimits(nofile: int = FARGATE_NOFILE) -> list[str]:
    """Explicit limits: without them runc tries to raise the host's and the sandbox forbids it.

    `nofile` is capped at the host's hard limit; nproc, which Fargate leaves alone, gets a
    fixed value this sandbox accepts (it refuses the host's own).
    """
    import resource

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY:
        nofile = min(nofile, hard)
    return ["--ulimit", f"nofile={nofile}:{nofile}", "--ulimit", "nproc=4096:4096"]


def ensure_base(cache: Path) -> str:
    """The local base image's name, made (about 45 s) and imported only when missing."""
    key = base_key()
    name = f"localhost/servespec-rehearse-base:{key}"
    if _run([*podman(), "image", "exists", name], check=False).returncode == 0:
        return name
    tarball = cache / f"base-{key}.tar"
    if not tarball.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        partial = tarball.with_name(f"base-{key}.partial.tar")  # mmdebstrap: format by suffix
        _run(
            [
                "mmdebstrap",
                "--variant=minbase",
                f"--include={','.join(PACKAGES)}",
                SUITE,
                str(partial),
            ]
        )
        partial.replace(tarball)
    _run([*podman(), "import", str(tarball), name])
    return name


def build(repo: Path, dockerfile: Path, base: str, tag: str) -> None:
    """Build `dockerfile` (context: the repository root) with every FROM replaced by `base`."""
    original = dockerfile.read_text()
    if not FROM.search(original):
        raise ValueError(f"{dockerfile}: no FROM line")
    substituted = FROM.sub(lambda m: m.group(1) + base, original)
    ignore = dockerfile.with_name(dockerfile.name + ".dockerignore")
    with tempfile.TemporaryDirectory(prefix="servespec-rehearse-") as scratch:
        copy = Path(scratch) / "Dockerfile"
        copy.write_text(substituted)
        command = [
            *podman(),
            "build",
            "--network",
            "host",
            "--volume",
            "/etc/ssl/certs:/etc/ssl/certs:ro",
            *ulimits(),
            "--file",
            str(copy),
            "--tag",
            tag,
        ]
        if ignore.is_file():
            command += ["--ignorefile", str(ignore)]
        _run([*command, str(repo)], cwd=repo)


def declared_volumes(tag: str) -> set[str]:
    """Paths the image declares with VOLUME (Fargate copies their content and owner)."""
    found = _run([*podman(), "image", "inspect", "--format", "{{json .Config.Volumes}}", tag])
    import json

    volumes = json.loads(found.stdout or "null") or {}
    return set(volumes)


def _run(
    command: list[str], *, check: bool = True, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=cwd)
    if check and done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise RuntimeError(f"`{' '.join(command[:4])} …` exited {done.returncode}:\n{tail}")
    return done
