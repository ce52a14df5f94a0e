"""Bearer API keys: kept only as SHA-256 digests, compared in constant time.

The key id (a digest prefix, not secret) names the caller in logs, metrics and rate limits.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

from runtime.asgi import header, send_error

KEY_ID = "servespec.key_id"  # scope entry where the caller's key id is left for later layers
ANONYMOUS = "anonymous"


class KeyStore:
    def __init__(self, keys: Iterable[str]) -> None:
        self._digests = [hashlib.sha256(key.encode()).digest() for key in keys]
        if not self._digests:
            raise ValueError("no API keys configured")

    def identify(self, token: str) -> str | None:
        digest = hashlib.sha256(token.encode()).digest()
        found = None
        # Compare against every key, without stopping early, so timing says nothing about
        # which key (or how much of one) matched.
        for candidate in self._digests:
            if hmac.compare_digest(digest, candidate):
                found = candidate
        return found.hex()[:12] if found is not None else None


class AuthMiddleware:
    def __init__(self, app: ASGIApp, keys: KeyStore | None, public: frozenset[str]) -> None:
        self.app, self.keys, self.public = app, keys, public

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.public:
            await self.app(scope, receive, send)
            return
        key_id = self._authenticate(header(scope, b"authorization"))
        if key_id is None:
            await send_error(
                send,
                401,
                "Invalid or missing API key. Send 'Authorization: Bearer <key>'.",
                "invalid_api_key",
                {"WWW-Authenticate": "Bearer"},
            )
            return
        scope[KEY_ID] = key_id
        await self.app(scope, receive, send)

    def _authenticate(self, value: str | None) -> str | None:
        if self.keys is None:
            return ANONYMOUS
        scheme, _, token = (value or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return self.keys.identify(token.strip())
