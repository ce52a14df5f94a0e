"""The locked requirements build a working runtime: a fresh venv installs them and serves.

Docker cannot run here; this is the image's build stage without Docker.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import venv
from pathlib import Path

import httpx
import pytest

from compiler.image.lockfile import LOCK
from tests.runtime.conftest import API_KEY, free_port

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def test_locked_venv_imports_runtime_and_serves(tiny_artifact: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "--require-hashes",
            "--only-binary=:all:",
            "-r",
            str(LOCK),
        ],
        check=True,
        timeout=900,
    )
    # Only runtime/ is on the path, as in the image: no compiler/, no torch, no transformers.
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    (app_dir / "runtime").symlink_to(ROOT / "runtime")
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(app_dir), "HOME": str(tmp_path)}
    probe = subprocess.run(
        [
            str(python),
            "-c",
            "import runtime.server, importlib.util as u; "
            "print([m for m in ('torch', 'transformers', 'optimum') if u.find_spec(m)])",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.strip() == "[]"
    port = free_port()
    server = subprocess.Popen(
        [str(python), "-m", "runtime"],
        env={
            **env,
            "SERVESPEC_ARTIFACT": str(tiny_artifact),
            "SERVESPEC_PORT": str(port),
            "SERVESPEC_HOST": "127.0.0.1",
            "SERVESPEC_API_KEYS": API_KEY,
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/readyz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        reply = httpx.post(
            url + "/v1/chat/completions",
            headers={"Authorization": f"Bearer {API_KEY}"},
            json={
                "model": "tiny-llama",
                "max_tokens": 5,
                "messages": [{"role": "user", "content": "hello"}],
            },
            timeout=60,
        )
        assert reply.status_code == 200
        assert reply.json()["usage"]["completion_tokens"] <= 5
    finally:
        server.terminate()
        assert server.wait(30) == 0
    assert sys.version_info[:2] == (3, 11)  # the lock's wheels are for CPython 3.11
