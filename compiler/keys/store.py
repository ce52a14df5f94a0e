"""Named API keys in one environment's Secrets Manager secret.

The secret holds JSON, `{"keys": [{"name", "key", "created"}]}`; the runtime accepts every key
in it and names callers by key id (the key's name; runtime/auth.py), never by the key. Values
are generated here with `secrets.token_urlsafe` and put with PutSecretValue, so they never pass
through Terraform (state) or the repository; only `add` prints a value, once, to its caller.
"""

from __future__ import annotations

import datetime
import json
import secrets
from dataclasses import dataclass
from typing import Any

from runtime.auth import key_id, parse_keys

PREFIX = "sk-"
INITIAL = "initial"


class KeyError_(Exception):
    """A keys command cannot do what was asked (the message says why)."""


@dataclass(frozen=True)
class Key:
    name: str
    key: str
    created: str
    named: bool = True  # False: a key of the old comma-separated format, "key-N" here only

    @property
    def id(self) -> str:
        """The id the runtime reports: the name, or a salted HMAC for an unnamed key."""
        return key_id(self.key, self.name if self.named else None)


def new_key() -> str:
    return PREFIX + secrets.token_urlsafe(32)


class SecretKeys:
    """Read-modify-write of the key list in one secret (by name or ARN)."""

    def __init__(self, client: Any, secret_id: str) -> None:
        self.client, self.secret_id = client, secret_id

    def load(self) -> list[Key]:
        try:
            found = self.client.get_secret_value(SecretId=self.secret_id)
        except self.client.exceptions.ResourceNotFoundException as exc:
            if "current version" in str(exc).lower() or "AWSCURRENT" in str(exc):
                return []  # the secret exists but no value was ever put
            raise KeyError_(f"secret {self.secret_id} not found: deploy the stack first") from None
        raw = found.get("SecretString") or ""
        if not raw.strip():
            return []
        try:
            entries = json.loads(raw)["keys"] if raw.lstrip().startswith("{") else None
        except (ValueError, KeyError, TypeError):
            raise KeyError_(f"secret {self.secret_id} is not servespec's key JSON") from None
        if entries is None:  # a plain comma-separated list (the earlier format)
            return [Key(f"key-{i + 1}", k, "", False) for i, k in enumerate(parse_keys(raw))]
        return [Key(e["name"], e["key"], e.get("created", "")) for e in entries]

    def save(self, keys: list[Key]) -> None:
        body = {"keys": [{"name": k.name, "key": k.key, "created": k.created} for k in keys]}
        self.client.put_secret_value(SecretId=self.secret_id, SecretString=json.dumps(body))

    def add(self, name: str) -> Key:
        if key_id("", name) != name:  # the name is the key's id in metrics and logs
            raise KeyError_(
                f"key name {name!r}: use 1-64 letters, digits, '.', '_' or '-' (not 'anonymous')"
            )
        keys = self.load()
        if any(k.name == name for k in keys):
            raise KeyError_(f"a key named {name!r} exists: revoke it first or pick another name")
        created = datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat()
        key = Key(name, new_key(), created)
        self.save([*keys, key])
        return key

    def revoke(self, name_or_id: str) -> Key:
        keys = self.load()
        matches = [k for k in keys if name_or_id in (k.name, k.id)]
        if not matches:
            raise KeyError_(f"no key named or with id {name_or_id!r}")
        if len(keys) == 1:
            raise KeyError_("refusing to revoke the last key: add its successor first")
        self.save([k for k in keys if k not in matches])
        return matches[0]

    def ensure(self) -> tuple[Key, bool]:
        """The first key, creating one named `initial` when the secret holds none."""
        keys = self.load()
        if keys:
            return keys[0], False
        return self.add(INITIAL), True
