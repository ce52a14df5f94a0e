"""The statistics of an A/B verdict, from scipy: intervals, tests and sample sizes.

Rates (positive feedback, errors) are compared with a two-proportion z-test when every cell
has at least five observations and with Fisher's exact test otherwise; latencies with the
Mann-Whitney U test (no normality assumed). Sample sizes are for 80 % power at alpha 0.05.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats

ALPHA, POWER = 0.05, 0.80


def wilson(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval: sane at 0 %, 100 % and small n, unlike the normal one."""
    if n == 0:
        return (0.0, 1.0)
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def proportions_test(s1: int, n1: int, s2: int, n2: int) -> tuple[str, float]:
    """Two-sided p-value that two rates differ; (test name, p)."""
    if n1 == 0 or n2 == 0:
        return ("none", 1.0)
    cells = (s1, n1 - s1, s2, n2 - s2)
    if min(cells) < 5:
        _, p = stats.fisher_exact([[s1, n1 - s1], [s2, n2 - s2]])
        return ("fisher_exact", float(p))
    pooled = (s1 + s2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return ("two_proportion_z", 1.0)
    z = (s1 / n1 - s2 / n2) / se
    return ("two_proportion_z", float(2 * stats.norm.sf(abs(z))))


def latency_test(a: Sequence[float], b: Sequence[float]) -> tuple[str, float]:
    if len(a) == 0 or len(b) == 0:
        return ("none", 1.0)
    result = stats.mannwhitneyu(a, b, alternative="two-sided")
    return ("mann_whitney_u", float(result.pvalue))


def _z(power: float = POWER, alpha: float = ALPHA) -> tuple[float, float]:
    return float(stats.norm.ppf(1 - alpha / 2)), float(stats.norm.ppf(power))


def proportions_sample_size(p1: float, p2: float) -> int | None:
    """Observations per variant to detect p1 vs p2; None when they are equal."""
    if p1 == p2:
        return None
    za, zb = _z()
    mean = (p1 + p2) / 2
    top = za * math.sqrt(2 * mean * (1 - mean)) + zb * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    return math.ceil(top * top / ((p1 - p2) ** 2))


def latency_sample_size(a: Sequence[float], b: Sequence[float]) -> int | None:
    """Per variant, from the observed medians and spread (t-test size, +15 % for ranks)."""
    if len(a) < 2 or len(b) < 2:
        return None
    delta = float(np.median(a) - np.median(b))
    sd = math.sqrt((float(np.var(a, ddof=1)) + float(np.var(b, ddof=1))) / 2)
    if delta == 0:
        return None
    za, zb = _z()
    return math.ceil(1.15 * 2 * ((za + zb) * sd / delta) ** 2)


def percentile(values: Sequence[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if len(values) else None
