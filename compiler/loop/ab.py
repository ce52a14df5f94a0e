"""`servespec ab report`: per-variant figures from capture records, and a verdict.

The verdict compares the best variant on the chosen metric with every other one; it names
a winner only when each comparison is significant at 0.05 and every variant has at least
``min_samples`` observations of the metric. Otherwise it says how many more observations
per variant the observed difference needs (80 % power).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from compiler.loop import stats
from compiler.loop.records import Record

METRICS = ("positive_feedback_rate", "error_rate", "latency_ms", "ttft_ms")
LOWER_IS_BETTER = {"error_rate", "latency_ms", "ttft_ms"}


@dataclass
class Variant:
    requests: int = 0
    errors: int = 0
    latency_ms: list[float] = field(default_factory=list)
    ttft_ms: list[float] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    ratings: dict[str, int] = field(default_factory=dict)  # response id -> last rating

    @property
    def positive(self) -> int:
        return sum(1 for r in self.ratings.values() if r > 0)

    def summary(self) -> dict[str, Any]:
        rated = len(self.ratings)
        low, high = stats.wilson(self.positive, rated)
        return {
            "requests": self.requests,
            "errors": self.errors,
            "error_rate": round(self.errors / self.requests, 4) if self.requests else None,
            "latency_ms": _quantiles(self.latency_ms),
            "ttft_ms": _quantiles(self.ttft_ms),
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "feedback": rated,
            "positive": self.positive,
            "positive_feedback_rate": round(self.positive / rated, 4) if rated else None,
            "positive_feedback_rate_ci95": [round(low, 4), round(high, 4)],
        }


def _quantiles(values: list[float]) -> dict[str, float | None]:
    return {"p50": stats.percentile(values, 50), "p95": stats.percentile(values, 95)}


def collect(records: list[Record]) -> dict[str, Variant]:
    """Group by variant; feedback joins its response by id (or carries the variant)."""
    variants: dict[str, Variant] = defaultdict(Variant)
    answered: dict[str, str] = {}
    for record in records:
        if record["type"] != "request":
            continue
        v = variants[str(record.get("variant") or "default")]
        answered[record["id"]] = str(record.get("variant") or "default")
        v.requests += 1
        status = int(record.get("status") or 0)
        v.errors += status >= 500
        if status == 200:
            v.latency_ms.append(float(record.get("latency_ms") or 0))
            if record.get("ttft_ms") is not None:
                v.ttft_ms.append(float(record["ttft_ms"]))
        v.prompt_tokens += int(record.get("prompt_tokens") or 0)
        v.completion_tokens += int(record.get("completion_tokens") or 0)
    for record in records:
        if record["type"] == "feedback":
            name = answered.get(record["id"]) or record.get("variant")
            if name is not None:
                variants[str(name)].ratings[record["id"]] = int(record.get("rating") or 0)
    return dict(sorted(variants.items()))


def _counts(v: Variant, metric: str) -> tuple[int, int]:
    if metric == "positive_feedback_rate":
        return v.positive, len(v.ratings)
    return v.errors, v.requests


def _compare(a: Variant, b: Variant, metric: str) -> tuple[str, float, int | None, int]:
    """(test, p, needed per variant, smaller sample) for the best `a` against `b`."""
    if metric in ("latency_ms", "ttft_ms"):
        xa, xb = getattr(a, metric), getattr(b, metric)
        test, p = stats.latency_test(xa, xb)
        return test, p, stats.latency_sample_size(xa, xb), min(len(xa), len(xb))
    (sa, na), (sb, nb) = _counts(a, metric), _counts(b, metric)
    test, p = stats.proportions_test(sa, na, sb, nb)
    rates = (sa / na if na else 0.0, sb / nb if nb else 0.0)
    return test, p, stats.proportions_sample_size(*rates), min(na, nb)


def _score(v: Variant, metric: str) -> float:
    if metric in ("latency_ms", "ttft_ms"):
        values = getattr(v, metric)
        return float(stats.percentile(values, 50) or float("inf"))
    successes, n = _counts(v, metric)
    return successes / n if n else (float("inf") if metric in LOWER_IS_BETTER else -1.0)


def report(records: list[Record], metric: str, min_samples: int = 30) -> dict[str, Any]:
    variants = collect(records)
    result: dict[str, Any] = {
        "metric": metric,
        "winner": None,
        "p_value": None,
        "test": None,
        "alpha": stats.ALPHA,
        "min_samples": min_samples,
        "needed_per_variant": None,
        "variants": {name: v.summary() for name, v in variants.items()},
    }
    if len(variants) < 2:
        result["verdict"] = f"undecided: {len(variants)} variant(s) in the records, need 2+"
        return result
    ordered = sorted(variants, key=lambda n: _score(variants[n], metric))
    best = ordered[0] if metric in LOWER_IS_BETTER else ordered[-1]
    comparisons = [_compare(variants[best], variants[o], metric) for o in variants if o != best]
    p = max(c[1] for c in comparisons)
    smallest = min(c[3] for c in comparisons)
    needed = [c[2] for c in comparisons]
    result.update(test=comparisons[0][0], p_value=round(p, 6))
    result["needed_per_variant"] = None if None in needed else max(n for n in needed if n)
    if p < stats.ALPHA and smallest >= min_samples:
        result["winner"] = best
        result["verdict"] = f"{best} is better on {metric} (p={p:.4g})"
    else:
        why = f"p={p:.4g}" if p >= stats.ALPHA else f"only {smallest} observations"
        more = result["needed_per_variant"]
        hint = f"; about {more} observations per variant needed" if more else ""
        result["verdict"] = f"undecided on {metric} ({why}){hint}"
    return result
