"""Bearer API keys: kept only as SHA-256 digests, compared in constant time.

The key id names the caller in logs, metrics, rate limits and the usage counts here. A key
from servespec's secret JSON is named (`servespec keys add --name`): its id is that name,
stable across tasks and restarts and unrelated to the value. An unnamed key (a variable, a
file, the old comma-separated secret) gets `key-` + a prefix of HMAC-SHA256 keyed with
SERVESPEC_KEY_ID_SALT (a random salt per process when unset), so an id published on a
dashboard cannot be checked against a guessed or leaked key from outside.

Keys come from SERVESPEC_API_KEYS / SERVESPEC_API_KEYS_FILE at start
and, when SERVESPEC_API_KEYS_SECRET names a Secrets Manager secret, from that secret, re-read
every SERVESPEC_API_KEYS_RELOAD_S seconds through the task role: ECS resolves a container's
`secrets` once, when the task starts, so only the runtime reading the secret itself lets an
added or revoked key take effect without a restart.
"""

from __future__ import annotations

import collections
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Receive, Scope, Send

from runtime.asgi import header, send_error

if TYPE_CHECKING:
    from runtime.settings import Settings

KEY_ID = "servespec.key_id"  # scope entry where the caller's key id is left for later layers
ANONYMOUS = "anonymous"
log = logging.getLogger("servespec.auth")


SALT_VARIABLE = "SERVESPEC_KEY_ID_SALT"
_PROCESS_SALT = secrets.token_bytes(32)  # ids of unnamed keys then hold for this process only
# Names that are safe as a metric label and a log field, and never read as another id.
_ID_NAME = re.compile(r"^(?!key-[0-9a-f]{12}$)[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

KeyEntry = str | tuple[str, str]  # a bare key, or (key, name) from servespec's secret JSON


def _salt() -> bytes:
    configured = os.environ.get(SALT_VARIABLE, "")
    return configured.encode() if configured else _PROCESS_SALT


def key_id(key: str, name: str | None = None) -> str:
    """The caller's id: the key's name when it has a usable one, else the salted HMAC."""
    if name is not None and name != ANONYMOUS and _ID_NAME.match(name):
        return name
    return "key-" + hmac.new(_salt(), key.encode(), hashlib.sha256).hexdigest()[:12]


def parse_named_keys(raw: str) -> tuple[KeyEntry, ...]:
    """Like parse_keys, keeping each key's name when the secret is servespec's key JSON."""
    text = raw.strip()
    if text.startswith("{"):
        try:
            entries = json.loads(text)["keys"]
            return tuple((str(e["key"]), str(e.get("name") or "")) for e in entries)
        except (ValueError, KeyError, TypeError, AttributeError):
            raise ValueError("API keys: not servespec's key JSON") from None
    return parse_keys(text)


def parse_keys(raw: str) -> tuple[str, ...]:
    """Keys from servespec's secret JSON (`{"keys": [{"key": ...}]}`) or a comma-separated list."""
    text = raw.strip()
    if text.startswith("{"):
        try:
            return tuple(str(entry["key"]) for entry in json.loads(text)["keys"])
        except (ValueError, KeyError, TypeError):
            raise ValueError("API keys: not servespec's key JSON") from None
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _ids(keys: Iterable[KeyEntry]) -> dict[bytes, str]:
    """Digest -> key id; a key listed both bare (the injected variable) and named (the
    secret read back) keeps its name."""
    found: dict[bytes, str] = {}
    for entry in keys:
        key, name = (entry, None) if isinstance(entry, str) else entry
        digest = hashlib.sha256(key.encode()).digest()
        if name or digest not in found:
            found[digest] = key_id(key, name or None)
    return found


class KeyStore:
    def __init__(self, keys: Iterable[KeyEntry]) -> None:
        self._lock = threading.Lock()
        self._ids: dict[bytes, str] = {}
        self.usage: collections.Counter[str] = collections.Counter()  # requests per key id
        if not self.replace(keys):
            raise ValueError("no API keys configured")

    def replace(self, keys: Iterable[KeyEntry]) -> bool:
        """Swap in a new key set; an empty one is refused (it would lock every caller out)."""
        ids = _ids(keys)
        if not ids:
            return False
        with self._lock:
            changed = ids != self._ids
            self._ids = ids
        if changed:
            log.info("api keys loaded", extra={"key_ids": sorted(ids.values())})
        return True

    def identify(self, token: str) -> str | None:
        digest = hashlib.sha256(token.encode()).digest()
        found = None
        with self._lock:
            candidates = list(self._ids.items())
        # Compare against every key, without stopping early, so timing says nothing about
        # which key (or how much of one) matched.
        for candidate, identity in candidates:
            if hmac.compare_digest(digest, candidate):
                found = identity
        if found is None:
            return None
        identity = found
        with self._lock:
            self.usage[identity] += 1
        return identity

    def take_usage(self) -> dict[str, int]:
        """Requests per key id since the last call (the counts start again from zero)."""
        with self._lock:
            counts, self.usage = dict(self.usage), collections.Counter()
        return counts


class KeyReloader:
    """Re-reads the key sources every `interval_s` on a daemon thread; a failed read keeps the
    keys already loaded (and says so), so a Secrets Manager hiccup never locks callers out."""

    def __init__(
        self, store: KeyStore, read: Callable[[], tuple[KeyEntry, ...]], interval_s: float
    ):
        self.store, self.read, self.interval_s = store, read, interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="api-key-reload", daemon=True)

    def start(self) -> KeyReloader:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def reload_once(self) -> None:
        try:
            keys = self.read()
        except Exception as exc:
            log.warning("api key reload failed; keeping the loaded keys: %s", type(exc).__name__)
            return
        if not self.store.replace(keys):
            log.warning("api key source is empty; keeping the loaded keys")

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.reload_once()
            counts = self.store.take_usage()
            if counts:  # requests per key id since the last report, never the key
                log.info("api key usage", extra={"requests_by_key_id": counts})


def key_sources(
    env_keys: tuple[str, ...], keys_file: Path | None, secret: str | None, endpoint: str | None
) -> Callable[[], tuple[KeyEntry, ...]]:
    """One function reading every configured source, for the start and for each reload."""

    def read() -> tuple[KeyEntry, ...]:
        keys: list[KeyEntry] = list(env_keys)
        if keys_file is not None:
            lines = keys_file.read_text().splitlines()
            keys += [k.strip() for k in lines if k.strip() and not k.strip().startswith("#")]
        if secret is not None:
            keys += parse_named_keys(_secret_string(secret, endpoint))
        return tuple(keys)

    return read


def _secret_string(secret: str, endpoint: str | None) -> str:
    import boto3  # only tasks that name a secret need it

    client = boto3.session.Session().client("secretsmanager", endpoint_url=endpoint)
    return str(client.get_secret_value(SecretId=secret).get("SecretString") or "")


def start_keys(settings: Settings) -> KeyStore | None:
    """The key store for `settings` (None without auth), reloaded in the background when a
    source can change under a running task (a file or a Secrets Manager secret)."""
    if settings.auth != "api_key":
        return None
    read = key_sources(settings.api_keys, settings.api_keys_file, settings.api_keys_secret, None)
    store = KeyStore(read())
    if settings.api_keys_file is not None or settings.api_keys_secret is not None:
        KeyReloader(store, read, settings.api_keys_reload_s).start()
    return store


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
