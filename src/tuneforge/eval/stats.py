"""How sure are we: bootstrap intervals on headline metrics and paired tests between two systems.

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


def bootstrap_ci(
    rows: list[dict], headline: Headline, samples: int = 1000, level: float = 0.95, seed: int = 0
) -> dict[str, list[float]]:
    """Percentile bootstrap interval for every headline metric: resample examples with replacement."""
    if not rows:
        return {}
    draws: dict[str, list[float]] = {}
    for idx in _resamples(len(rows), samples, seed):
        for k, v in headline([rows[i] for i in idx]).items():
            draws.setdefault(k, []).append(v)
    alpha = (1 - level) / 2
    return {k: [percentile(sorted(v), alpha), percentile(sorted(v), 1 - alpha)] for k, v in draws.items()}


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
