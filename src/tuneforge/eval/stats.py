"""How sure are we: intervals on headline metrics (Wilson for proportions, BCa bootstrap otherwise) and paired
tests between two systems.

Both work on per-example score rows and a `headline(rows) -> {metric: value}` function, so one routine serves
every task type, including metrics that are not plain means (macro-F1, micro field F1).
"""

from __future__ import annotations

import math
import random
from typing import Callable

Headline = Callable[[list[dict]], dict[str, float]]


def _resamples(n: int, samples: int, seed: int) -> list[list[int]]:
    rng = random.Random(seed)
    return [[rng.randrange(n) for _ in range(n)] for _ in range(samples)]


def percentile(sorted_values: list[float], q: float) -> float:
    """Linear interpolation between order statistics (numpy's default method)."""
    if not sorted_values:
        return float("nan")
    pos = q * (len(sorted_values) - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def wilson_interval(successes: float, n: int, level: float = 0.95) -> list[float]:
    """Wilson score interval for a proportion: stays inside [0, 1] and keeps its coverage at small n, where a
    percentile bootstrap collapses (9/12 gave [50, 100] by bootstrap; Wilson gives [47, 91])."""
    from scipy.stats import norm

    if n == 0:
        return [0.0, 1.0]
    z = float(norm.ppf(1 - (1 - level) / 2))
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [max(0.0, centre - half), min(1.0, centre + half)]


def _proportion(rows: list[dict], headline: Headline, metric: str, value: float) -> float | None:
    """The number of successes when `metric` is the share of examples scoring 1 (accuracy, exact match, valid
    JSON); None for a metric that is not a plain proportion (macro-F1, field F1, ROUGE)."""
    singles = [headline([r])[metric] for r in rows]
    if all(v in (0.0, 1.0) for v in singles) and abs(sum(singles) / len(rows) - value) < 1e-9:
        return sum(singles)
    return None


def _bca(rows: list[dict], headline: Headline, metric: str, samples: int, level: float, seed: int) -> list[float]:
    """BCa bootstrap interval (scipy) of any headline metric, resampling examples."""
    import warnings

    import numpy as np
    from scipy.stats import bootstrap

    def stat(idx):
        return headline([rows[int(i)] for i in idx])[metric]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a constant metric is "degenerate": its interval is the point itself
        res = bootstrap((np.arange(len(rows)),), stat, n_resamples=samples, confidence_level=level,
                        method="BCa", vectorized=False, random_state=np.random.default_rng(seed))
    lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
    if math.isnan(lo) or math.isnan(hi):
        value = stat(range(len(rows)))
        return [value, value]
    return [lo, hi]


def confidence_intervals(
    rows: list[dict], headline: Headline, samples: int = 1000, level: float = 0.95, seed: int = 0
) -> tuple[dict[str, list[float]], dict[str, str]]:
    """An interval for every headline metric, and the method that made it: Wilson for proportions, BCa bootstrap
    for the rest. Both behave at the small n of a held-out set."""
    if not rows:
        return {}, {}
    ci, methods = {}, {}
    for metric, value in headline(rows).items():
        successes = _proportion(rows, headline, metric, value)
        if successes is not None:
            ci[metric], methods[metric] = wilson_interval(successes, len(rows), level), "Wilson score"
        else:
            ci[metric], methods[metric] = _bca(rows, headline, metric, samples, level, seed), "BCa bootstrap"
    return ci, methods


def paired_bootstrap(
    rows_a: list[dict], rows_b: list[dict], headline: Headline, metric: str,
    samples: int = 1000, level: float = 0.95, seed: int = 0,
) -> dict:
    """Delta (a - b) of `metric` on the same examples, its interval, and a two-sided p-value.

    The same resampled example indices go to both systems, so the test accounts for examples that are hard for
    everyone. p is twice the share of resamples on the other side of zero from the observed delta.
    """
    if len(rows_a) != len(rows_b):
        raise ValueError("paired test needs both systems scored on the same examples")
    observed = headline(rows_a)[metric] - headline(rows_b)[metric]
    deltas = sorted(
        headline([rows_a[i] for i in idx])[metric] - headline([rows_b[i] for i in idx])[metric]
        for idx in _resamples(len(rows_a), samples, seed)
    )
    if observed > 0:
        other_side = sum(d <= 0 for d in deltas)
    elif observed < 0:
        other_side = sum(d >= 0 for d in deltas)
    else:
        other_side = len(deltas)
    p = min(1.0, 2 * (other_side + 1) / (len(deltas) + 1))
    alpha = (1 - level) / 2
    return {
        "metric": metric, "delta": observed,
        "ci": [percentile(deltas, alpha), percentile(deltas, 1 - alpha)],
        "p_value": p, "test": "paired bootstrap",
    }


def mcnemar_exact(correct_a: list[bool], correct_b: list[bool]) -> dict:
    """Exact McNemar test on paired right/wrong outcomes: only the examples where the two systems disagree count."""
    b = sum(1 for x, y in zip(correct_a, correct_b) if x and not y)  # a right, b wrong
    c = sum(1 for x, y in zip(correct_a, correct_b) if y and not x)
    n = b + c
    if n == 0:
        return {"a_only": 0, "b_only": 0, "p_value": 1.0, "test": "McNemar exact"}
    k = min(b, c)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return {"a_only": b, "b_only": c, "p_value": min(1.0, 2 * tail), "test": "McNemar exact"}
