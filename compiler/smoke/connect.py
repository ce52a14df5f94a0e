"""Reach one load balancer under the API's real host name, like `curl --connect-to`.

Right after a deploy, DNS may still point at another environment or region; the smoke test
must talk to this environment's load balancer while TLS still verifies the API's own name
(SNI and the certificate use the URL's host, only the TCP connection goes elsewhere).
"""

from __future__ import annotations

from typing import Any

import httpcore2 as httpcore  # the httpx fork the openai client is built on
import httpx2 as httpx


class _ConnectTo(httpcore.SyncBackend):
    def __init__(self, target: str) -> None:
        self.target = target

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        return super().connect_tcp(self.target, port, timeout, local_address, socket_options)


class ConnectToTransport(httpx.HTTPTransport):
    """httpx's own transport with its connection pool given a redirecting network backend
    (httpcore's documented extension point; httpx keeps the pool in `_pool`)."""

    def __init__(self, target: str) -> None:
        super().__init__()
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(), network_backend=_ConnectTo(target)
        )


def http_client(connect_to: str | None, timeout_s: float) -> httpx.Client | None:
    if connect_to is None:
        return None
    return httpx.Client(transport=ConnectToTransport(connect_to), timeout=timeout_s)
