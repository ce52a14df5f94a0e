"""Stop the task like ECS: SIGTERM while streams are in flight, SIGKILL after stopTimeout.

Every stream must finish (a finish_reason, not a cut connection) and the process must exit 0
before the stop timeout: what a rolling deploy or a scale-in does to clients in flight.
"""

from __future__ import annotations

import subprocess
import threading
import time
from dataclasses import dataclass

from compiler.rehearse import container, image

STREAMS = 4


class DrainFailed(Exception):
    """A stream was cut, or the process did not exit cleanly within the stop timeout."""


@dataclass(frozen=True)
class Drained:
    streams: int
    exit_s: float  # SIGTERM to exit
    exit_code: int


def stop_with_streams(running: container.Running, base_url: str, key: str, model: str) -> Drained:
    import openai

    client = openai.OpenAI(base_url=base_url + "/v1", api_key=key, max_retries=0)
    started = [threading.Event() for _ in range(STREAMS)]
    outcome: list[str | None] = [None] * STREAMS

    def stream(i: int) -> None:
        try:
            chunks = client.chat.completions.create(
                model=model,
                messages=[{"role": "user", "content": f"Write a long story about ship {i}."}],
                max_tokens=96,
                stream=True,
            )
            finish = None
            for chunk in chunks:
                started[i].set()
                for choice in chunk.choices:
                    finish = choice.finish_reason or finish
            outcome[i] = f"finish_reason={finish}" if finish else "ended without finish_reason"
        except Exception as exc:
            outcome[i] = f"{type(exc).__name__}: {exc}"
        finally:
            started[i].set()

    threads = [threading.Thread(target=stream, args=(i,), daemon=True) for i in range(STREAMS)]
    for thread in threads:
        thread.start()
    for event in started:
        event.wait(timeout=120)
    sigterm = time.monotonic()
    subprocess.run(
        [*image.podman(), "stop", "-t", str(running.stop_timeout_s), running.name],
        capture_output=True,
        check=False,
    )
    exit_s = time.monotonic() - sigterm
    for thread in threads:
        thread.join(timeout=5)
    code = int(container.state(running).get("ExitCode", -1))
    cut = [o for o in outcome if not (o or "").startswith("finish_reason=")]
    if cut:
        raise DrainFailed(f"{len(cut)} of {STREAMS} streams did not complete: {cut[0]}")
    if exit_s >= running.stop_timeout_s or code != 0:
        raise DrainFailed(
            f"exit code {code} after {exit_s:.1f} s (stopTimeout {running.stop_timeout_s} s)"
        )
    return Drained(STREAMS, exit_s, code)
