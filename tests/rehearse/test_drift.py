"""The rehearsal fails when the task definition and the image disagree.

Here the task definition loses the model cache's mount: the image still writes its cache to
/var/cache/servespec, which is then part of the read-only root, exactly the first-deploy bug
the rehearsal was built to catch. Runs the real image under podman (CI installs it).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest

from compiler.keys import locate
from compiler.rehearse import container, emulator, image, probe, run
from compiler.rehearse.image import PodmanUnavailable

SPEC = "spec/assistant.yaml"


@pytest.fixture(scope="module")
def podman() -> None:
    try:
        image.check_tools()
    except PodmanUnavailable as exc:
        pytest.skip(f"podman cannot run here: {exc}")


@pytest.mark.slow
def test_a_cache_path_on_the_read_only_root_fails_the_rehearsal(podman: None) -> None:
    spec = locate.environment(SPEC, "staging")
    ctx = run.Context(spec, SPEC, Path("."), emulator.Moto(run._account_id(spec)))
    ctx.tag = f"localhost/servespec-{spec.metadata.name}:rehearse"
    run._build(ctx)
    try:
        run._account(ctx)  # starts moto_server
        run._push(ctx)
        assert ctx.deploy is not None
        drifted = dict(ctx.deploy.container)
        drifted["mountPoints"] = [
            m for m in drifted["mountPoints"] if m["containerPath"] != "/var/cache/servespec"
        ]
        ctx.deploy = dataclasses.replace(ctx.deploy, container=drifted)
        running = run._start(ctx)
        try:
            with pytest.raises(probe.NeverHealthy, match="Read-only file system"):
                probe.until_healthy(
                    ctx.deploy.health,
                    ctx.deploy.grace_period_s,
                    lambda: bool(container.state(running).get("Running")),
                    time.monotonic(),
                )
        finally:
            container.remove(running)
    finally:
        ctx.moto.__exit__()
