"""Probe the container as the load balancer's target group does, and time the model load.

An ALB check runs every `interval` seconds and a target is healthy after `healthy_threshold`
consecutive matches; between checks a 1 s poll of the same path measures when the task first
became ready (the model-load time). ECS ignores failures until the service's grace period
ends, then replaces the task after `unhealthy_threshold` failures: that is the deadline here.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from compiler.rehearse.terraform import HealthCheck


class NeverHealthy(Exception):
    """The target would never have become healthy (the message says what was seen)."""


@dataclass(frozen=True)
class Probed:
    ready_s: float  # first 200 from the health path: model downloaded, verified, warmed up
    healthy_s: float  # when the target group would mark the target healthy


def status(url: str, timeout_s: float) -> int:
    """The health path's status code (0: no answer); raises when the runtime says it gave up
    (`"status": "failed"`): ECS would wait out the grace period and then replace the task,
    and every replacement would fail the same way, so there is nothing left to wait for."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        body = _json(exc.read())
        if body.get("status") == "failed":
            raise NeverHealthy(f"the runtime gave up: {body.get('reason')}") from None
        return exc.code
    except OSError:
        return 0


def _json(raw: bytes) -> dict[str, object]:
    try:
        loaded = json.loads(raw)
    except ValueError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def matches(code: int, matcher: str) -> bool:
    for part in matcher.split(","):
        low, _, high = part.strip().partition("-")
        if int(low) <= code <= int(high or low):
            return True
    return False


def until_healthy(
    check: HealthCheck, grace_s: int, alive: Callable[[], bool], started: float
) -> Probed:
    url = f"http://127.0.0.1:{check.port}{check.path}"
    deadline = started + grace_s + check.unhealthy_threshold * check.interval_s
    next_check, streak, ready_at, last = started + check.interval_s, 0, None, 0
    while time.monotonic() < deadline:
        if not alive():
            raise NeverHealthy(f"the container exited before it was healthy (last {last})")
        now = time.monotonic()
        if ready_at is None:
            last = status(url, check.timeout_s)
            if matches(last, check.matcher):
                ready_at = time.monotonic()
        if now >= next_check:
            last = status(url, check.timeout_s)
            streak = streak + 1 if matches(last, check.matcher) else 0
            next_check += check.interval_s
            if streak >= check.healthy_threshold:
                return Probed(ready_at - started if ready_at else now - started, now - started)
        time.sleep(1.0)
    raise NeverHealthy(
        f"{check.path} not healthy within grace {grace_s} s + {check.unhealthy_threshold} "
        f"checks x {check.interval_s} s (last status {last or 'no answer'})"
    )
