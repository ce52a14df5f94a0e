"""Keys change under a running task: `servespec keys add` is accepted and `keys revoke` refused
within the reload interval the task definition sets, without a restart."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any


class RotationFailed(Exception):
    """An added key was never accepted, or a revoked one still was."""


POLL_S = 5.0  # under the runtime's failed-auth allowance (10 per minute per client)


def accepted(base_url: str, key: str) -> bool | None:
    """Whether the runtime accepts the key; None while it throttles this client (a 429 from
    the failed-auth limit says nothing about the key)."""
    request = urllib.request.Request(
        base_url + "/v1/models", headers={"Authorization": f"Bearer {key}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10):
            return True
    except urllib.error.HTTPError as exc:
        if exc.code == 401:
            return False
        if exc.code == 429:
            return None
        raise


def reload_interval_s(definition: dict[str, Any]) -> float | None:
    env = {e["name"]: e["value"] for e in definition.get("environment", [])}
    raw = env.get("SERVESPEC_API_KEYS_RELOAD_S")
    return float(raw) if raw and env.get("SERVESPEC_API_KEYS_SECRET") else None


def add_then_revoke(
    base_url: str, interval_s: float, keys: Callable[..., str]
) -> tuple[float, float]:
    """Seconds until an added key works and until its revocation takes; `keys(*args)` runs
    `servespec keys ARGS…` for this environment and returns its output."""
    added = json.loads(keys("add", "--name", "rehearsal-rotation"))
    seen_in = _until(
        lambda: accepted(base_url, added["key"]) is True, interval_s, "added key accepted"
    )
    keys("revoke", added["key_id"])
    gone_in = _until(
        lambda: accepted(base_url, added["key"]) is False, interval_s, "revoked key refused"
    )
    return seen_in, gone_in


def _until(condition: Callable[[], bool], interval_s: float, what: str) -> float:
    start = time.monotonic()
    deadline = start + 2 * interval_s + 2 * POLL_S
    while time.monotonic() < deadline:
        if condition():
            return time.monotonic() - start
        time.sleep(POLL_S)
    raise RotationFailed(
        f"not {what} within {deadline - start:.0f} s (reload every {interval_s} s)"
    )


def usage(log: str) -> dict[str, int]:
    """Requests per key id that the runtime logged (it reports at each reload); the smoke
    test's requests happened more than one reload ago, so there must be some."""
    found: dict[str, int] = {}
    for line in log.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("message") == "api key usage":
            for key_id, count in record.get("requests_by_key_id", {}).items():
                found[key_id] = found.get(key_id, 0) + int(count)
    if not found:
        raise RotationFailed("the task logged no requests per key id")
    return found
