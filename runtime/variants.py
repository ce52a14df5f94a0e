"""Which A/B variant this task is, which variant a caller belongs to, and the headers.

One task serves one variant, named by ``SERVESPEC_VARIANT`` (the load balancer splits traffic
between the variants' services). Every response says which variant answered
(``X-Servespec-Variant``); a request may pin a variant with the same header, for evaluation:
the load balancer's listener rules route a pinned request to that variant's service, and a
task that receives a request pinned to another variant refuses it (421) instead of
answering as the wrong model.

``assign`` is the sticky assignment of a caller (key id or the request's ``user`` field) to a
variant: a hash of the caller, so one caller always lands on the same variant for a given
table of weights, and the share of callers per variant follows the weights.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Mapping

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runtime.asgi import header, send_error
from runtime.emf import DEFAULT_VARIANT

HEADER = "X-Servespec-Variant"
_HEADER_KEY = HEADER.lower().encode()
DEFAULT = DEFAULT_VARIANT  # the variant's name when the deployment has no A/B split


class VariantError(ValueError):
    """A ``SERVESPEC_VARIANT*`` variable has a value we cannot use."""


@dataclasses.dataclass(frozen=True)
class VariantSettings:
    name: str = DEFAULT
    model_version: str = ""
    others: tuple[str, ...] = ()  # every variant of the deployment, in spec order

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> VariantSettings:
        """``SERVESPEC_VARIANT``, ``SERVESPEC_MODEL_VERSION``, ``SERVESPEC_VARIANTS=a,b``.

        Only the names: the weights live in the load balancer, so shifting traffic never
        changes (and restarts) a task definition.
        """
        env = os.environ if env is None else env
        names = tuple(n.strip() for n in env.get("SERVESPEC_VARIANTS", "").split(",") if n.strip())
        name = env.get("SERVESPEC_VARIANT", "") or DEFAULT
        if names and name not in names:
            raise VariantError(f"SERVESPEC_VARIANT={name!r} is not in SERVESPEC_VARIANTS")
        return cls(name, env.get("SERVESPEC_MODEL_VERSION", ""), names)

    @property
    def names(self) -> tuple[str, ...]:
        return self.others or (self.name,)


def parse_weights(raw: str) -> tuple[tuple[str, int], ...]:
    """``a:90,b:10`` (the spec's variants) -> ((a, 90), (b, 10)), for ``assign``."""
    pairs: list[tuple[str, int]] = []
    for part in filter(None, (p.strip() for p in raw.split(","))):
        name, _, weight = part.partition(":")
        if not name or not weight.isdigit():
            raise VariantError(f"SERVESPEC_VARIANTS: expected name:weight, got {part!r}")
        pairs.append((name, int(weight)))
    if pairs and sum(w for _, w in pairs) != 100:
        raise VariantError("SERVESPEC_VARIANTS: weights must sum to 100")
    return tuple(pairs)


def bucket(caller: str) -> int:
    """A stable number in 0..9999 for a caller; independent of process and platform."""
    digest = hashlib.sha256(b"servespec-variant:" + caller.encode()).digest()
    return int.from_bytes(digest[:8], "big") % 10_000


def assign(caller: str, weights: tuple[tuple[str, int], ...]) -> str:
    """The variant a caller sticks to: its bucket falls in one variant's share of 10,000."""
    if not weights:
        return DEFAULT
    point, edge = bucket(caller), 0
    for name, weight in weights:
        edge += weight * 100
        if point < edge:
            return name
    return weights[-1][0]


class VariantMiddleware:
    """Refuses requests pinned to another variant and names the variant on every response."""

    def __init__(self, app: ASGIApp, variant: VariantSettings) -> None:
        self.app, self.variant = app, variant

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        pinned = header(scope, _HEADER_KEY)
        if pinned is not None and pinned != self.variant.name:
            known = pinned in self.variant.names
            await send_error(
                send,
                421 if known else 400,
                f"This task serves variant '{self.variant.name}', not '{pinned}'"
                + ("" if known else f"; the variants are {', '.join(self.variant.names)}")
                + ".",
                "variant_misdirected" if known else "unknown_variant",
                {HEADER: self.variant.name},
            )
            return

        async def send_with_variant(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[HEADER] = self.variant.name
            await send(message)

        await self.app(scope, receive, send_with_variant)
