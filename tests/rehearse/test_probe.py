"""The target-group probe: matcher ranges, thresholds, and a runtime that gave up."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from compiler.rehearse import probe
from compiler.rehearse.terraform import HealthCheck


def test_matcher_takes_codes_and_ranges() -> None:
    assert probe.matches(200, "200") and probe.matches(204, "200-299")
    assert probe.matches(302, "200,302") and not probe.matches(503, "200-299")


class Answers(BaseHTTPRequestHandler):
    ready_after = 0.0
    failed = False
    started = 0.0

    def do_GET(self) -> None:
        ready = time.monotonic() - self.started >= self.ready_after
        body = {"status": "failed" if self.failed else ("ready" if ready else "starting"),
                "reason": "OSError: [Errno 30] Read-only file system"}  # fmt: skip
        self.send_response(200 if ready and not self.failed else 503)
        self.end_headers()
        self.wfile.write(json.dumps(body).encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[ThreadingHTTPServer, type[Answers]]]:
    handler = type("H", (Answers,), {"started": time.monotonic()})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd, handler
    httpd.shutdown()


def check(port: int) -> HealthCheck:
    return HealthCheck("/readyz", port, "200", interval_s=1, timeout_s=1,
                       healthy_threshold=2, unhealthy_threshold=2)  # fmt: skip


def test_healthy_after_the_threshold_of_consecutive_checks(server: tuple) -> None:
    httpd, handler = server
    handler.ready_after = 1.5
    probed = probe.until_healthy(check(httpd.server_address[1]), 10, lambda: True, handler.started)
    assert 1.5 <= probed.ready_s <= 3.5 and probed.healthy_s >= probed.ready_s + 1


def test_a_runtime_that_gave_up_fails_at_once_with_its_reason(server: tuple) -> None:
    httpd, handler = server
    handler.failed = True
    start = time.monotonic()
    with pytest.raises(probe.NeverHealthy, match="Read-only file system"):
        probe.until_healthy(check(httpd.server_address[1]), 300, lambda: True, start)
    assert time.monotonic() - start < 5


def test_never_healthy_within_grace_and_thresholds(server: tuple) -> None:
    httpd, handler = server
    handler.ready_after = 60
    with pytest.raises(probe.NeverHealthy, match="not healthy within grace 2 s"):
        probe.until_healthy(check(httpd.server_address[1]), 2, lambda: True, time.monotonic())


def test_a_container_that_exits_fails_the_probe(server: tuple) -> None:
    httpd, _ = server
    with pytest.raises(probe.NeverHealthy, match="exited"):
        probe.until_healthy(check(httpd.server_address[1]), 10, lambda: False, time.monotonic())
