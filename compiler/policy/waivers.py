"""Skipped checks, read as waivers: who accepted the risk, why, and until when.

Two kinds of inline skip reach checkov, both written by the compiler (compile --check
rejects hand edits of generated/):

- spec waivers (security.waivers), written as
  ``#checkov:skip=<ID>:<reason> (owner <owner>, expires <YYYY-MM-DD>)``;
- design decisions of the emitter itself (an access-log bucket cannot use SSE-KMS), written
  as ``#checkov:skip=<ID>:<reason>`` with the reason only.

The gate lists both with their reasons. A spec waiver past its expiry no longer counts: the
gate fails it even if validation was skipped.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Literal

from .report import Finding

_SPEC_WAIVER = re.compile(
    r"^(?P<reason>.+?)\s*\((?:owner\s+)?(?P<owner>[^,()]+),\s*expires\s+"
    r"(?P<expires>\d{4}-\d{2}-\d{2})\)\s*$"
)
Kind = Literal["spec", "compiler"]


@dataclass(frozen=True)
class Waiver:
    finding: Finding
    kind: Kind
    reason: str
    owner: str | None = None
    expires: dt.date | None = None

    def problem(self, today: dt.date) -> str | None:
        """Why this skip no longer counts, or None when it does."""
        if not self.reason:
            return "skip without a reason"
        if self.expires is not None and self.expires < today:
            return f"waiver expired on {self.expires.isoformat()}"
        return None


def read_waiver(finding: Finding) -> Waiver:
    comment = (finding.suppress_comment or "").strip()
    match = _SPEC_WAIVER.match(comment)
    if match is None:
        return Waiver(finding, "compiler", comment)
    try:
        expires = dt.date.fromisoformat(match["expires"])
    except ValueError:
        return Waiver(finding, "compiler", comment)
    return Waiver(finding, "spec", match["reason"], match["owner"].strip(), expires)
