"""What changed between two versions of one environment, in sentences a reviewer reads first.

The walk is generic (a dotted diff of the two models' dumps), so a field added to the spec
tomorrow is reported without touching this module; a few fields reviewers care most about
get friendlier wording. Lists of named things (variants, waivers) are matched by their key,
and lists of values (alarm recipients, client networks) are compared as sets.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from compiler.spec import ResolvedSpec

# Identity and provenance, not configuration; environments are compared per deployment.
IGNORED = frozenset({"environment", "environments", "source_path", "source_sha256"})


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


@dataclass(frozen=True)
class Change:
    """One difference: dotted `path` (list items as `[key]`), both values, and the sentence."""

    path: str
    before: Any
    after: Any
    text: str


def show(value: Any) -> str:
    """A value as a reviewer writes it: true/false, unset, 0.5 rather than 0.5000."""
    if value is MISSING or value is None:
        return "unset"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return "[" + ", ".join(show(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {show(v)}" for k, v in value.items()) + "}"
    return str(value)


# Friendlier sentences for scalar fields: path -> (label, unit).
_LABELS: dict[str, tuple[str, str]] = {
    "model.version": ("model version", ""),
    "model.quantization.method": ("quantization", ""),
    "deployment.strategy": ("deployment strategy", ""),
    "deployment.canary_percent": ("canary traffic", " %"),
    "deployment.bake_minutes": ("bake time", " min"),
    "deployment.approval": ("deploy approval", ""),
    "observability.alarms.p99_latency_ms": ("p99 latency alarm", " ms"),
    "observability.alarms.ttft_p95_ms": ("time-to-first-token alarm", " ms"),
    "observability.alarms.error_rate_percent": ("error-rate alarm", " %"),
    "observability.log_retention_days": ("log retention", " days"),
    "backups.retention_days": ("backup retention", " days"),
}

# Value lists compared as sets: path -> (noun for one item).
_SETS: dict[str, str] = {
    "observability.alarms.notify": "alarm recipient",
    "security.compliance": "compliance profile",
    "security.network.allowed_cidrs": "allowed client network",
    "security.network.private_subnet_ids": "private subnet",
    "security.network.public_subnet_ids": "public subnet",
}


def _variant_key(item: dict[str, Any]) -> str:
    return str(item["name"])


def _waiver_key(item: dict[str, Any]) -> str:
    return f"{item['check']} on {item['resource']}"


def _new_variant(item: dict[str, Any]) -> str:
    return f"new variant {item['name']}: model {item['model_version']}, weight {item['weight']} %"


def _new_waiver(item: dict[str, Any]) -> str:
    return (
        f"new waiver {_waiver_key(item)} until {item['expires']} "
        f"(owner {item['owner']}: {item['reason']})"
    )


# Lists of records matched by key: path -> (key, noun, sentence for a new record).
_KEYED: dict[str, tuple[Callable[[dict[str, Any]], str], str, Callable[[dict[str, Any]], str]]] = {
    "variants": (_variant_key, "variant", _new_variant),
    "security.waivers": (_waiver_key, "waiver", _new_waiver),
}


def _scalar_text(path: str, before: Any, after: Any) -> str:
    label, unit = _LABELS.get(path, (path, ""))
    if path.startswith("variants["):
        # variants[candidate].weight -> "variant candidate weight 10 % → 20 %"
        name, _, field = path[len("variants[") :].partition("].")
        label = f"variant {name} {field.replace('_', ' ')}"
        unit = " %" if field == "weight" else ""
    text = f"{label} {show(before)}{unit} → {show(after)}{unit}"
    if path.startswith("security.") and before is True and after is False:
        text += " (a security control is turned off)"
    return text


def _walk(path: str, before: Any, after: Any) -> Iterator[Change]:
    if isinstance(before, dict) and isinstance(after, dict):
        yield from _walk_dict(path, before, after)
    elif path in _SETS and isinstance(before, list) and isinstance(after, list):
        yield from _walk_set(path, before, after)
    elif path in _KEYED and isinstance(before, list) and isinstance(after, list):
        yield from _walk_keyed(path, before, after)
    elif before != after:
        yield Change(path, before, after, _scalar_text(path, before, after))


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _walk_dict(path: str, before: dict[str, Any], after: dict[str, Any]) -> Iterator[Change]:
    keys = [*after, *(key for key in before if key not in after)]
    for key in keys:
        if not path and key in IGNORED:
            continue
        yield from _walk(_join(path, key), before.get(key, MISSING), after.get(key, MISSING))


def _walk_set(path: str, before: list[Any], after: list[Any]) -> Iterator[Change]:
    noun = _SETS[path]
    for item in after:
        if item not in before:
            yield Change(path, MISSING, item, f"new {noun} {show(item)}")
    for item in before:
        if item not in after:
            yield Change(path, item, MISSING, f"{noun} {show(item)} removed")


def _walk_keyed(path: str, before: list[Any], after: list[Any]) -> Iterator[Change]:
    key_of, noun, describe_new = _KEYED[path]
    old = {key_of(item): item for item in before}
    new = {key_of(item): item for item in after}
    for key, item in new.items():
        if key not in old:
            yield Change(f"{path}[{key}]", MISSING, item, describe_new(item))
        else:
            yield from _walk_dict(f"{path}[{key}]", old[key], item)
    for key, item in old.items():
        if key not in new:
            yield Change(f"{path}[{key}]", item, MISSING, f"{noun} {key} removed")


def diff_specs(before: ResolvedSpec | None, after: ResolvedSpec) -> list[Change]:
    """Every difference between two versions of one environment, in spec field order."""
    if before is None:
        text = (
            f"new environment {after.environment}: {after.metadata.name} in {after.region}, "
            f"model {after.model.name} {after.model.version}"
        )
        return [Change("environment", MISSING, after.environment, text)]
    return list(_walk("", before.model_dump(mode="json"), after.model_dump(mode="json")))


def summarize_change(before: ResolvedSpec | None, after: ResolvedSpec) -> list[str]:
    """Reviewer-facing sentences, e.g. "scaling.max 6 → 8" or "canary traffic 10 % → 5 %"."""
    return [change.text for change in diff_specs(before, after)]
