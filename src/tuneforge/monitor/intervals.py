"""Intervals for the monitor's plain numbers, so none is shown without its uncertainty.

- a rate out of n requests (error rate, valid answers): Wilson score interval (scipy's binomtest), which stays
  inside [0, 1] and behaves for rates near 0 or 1 and small n, where the normal approximation does not;
- request volume per hour: the exact Poisson (Garwood) interval for a count over the window's time span;
- a percentile (latency p50/p95) or a mean (confidence): a percentile bootstrap (scipy.stats.bootstrap), which
  assumes nothing about the shape of the distribution (latencies are skewed);
- a drift statistic with no closed-form null (PSI): a permutation test, pooling reference and current samples
  and splitting them again at random, which gives both a p-value and the value a same-distribution pair of
  samples of these sizes exceeds only 5% of the time (the statistic's own threshold at these sample sizes).

Every result is a plain dict {"value", "ci" | "p_value", "n", "method"} so the terminal, HTML and JSON outputs
and the alert policy read one shape.
"""

from __future__ import annotations

CONFIDENCE = 0.95
BOOTSTRAP_RESAMPLES = 1000
PERMUTATIONS = 200


def wilson(k: int, n: int) -> dict:
    """k successes out of n with a 95% Wilson score interval."""
    if not n:
        return {"value": None, "ci": None, "k": k, "n": 0, "method": "wilson"}
    from scipy.stats import binomtest

    ci = binomtest(k, n).proportion_ci(confidence_level=CONFIDENCE, method="wilson")
    return {"value": k / n, "ci": [float(ci.low), float(ci.high)], "k": k, "n": n, "method": "wilson"}


def poisson_rate(count: int, seconds: float, per: float = 3600.0) -> dict:
    """`count` events over `seconds` as a rate per `per` seconds, with the exact (Garwood) Poisson interval."""
    if count <= 0 or seconds <= 0:
        return {"value": None, "ci": None, "n": count, "span_s": seconds, "method": "poisson exact"}
    from scipy.stats import chi2

    alpha = 1 - CONFIDENCE
    low = chi2.ppf(alpha / 2, 2 * count) / 2
    high = chi2.ppf(1 - alpha / 2, 2 * count + 2) / 2
    scale = per / seconds
    return {"value": count * scale, "ci": [float(low * scale), float(high * scale)], "n": count,
            "span_s": seconds, "method": "poisson exact"}


def bootstrap_statistic(values: list[float], statistic, name: str, seed: int = 0) -> dict:
    """A statistic of `values` with a 95% percentile-bootstrap interval; `statistic(x, axis)` is vectorised."""
    n = len(values)
    if not n:
        return {"value": None, "ci": None, "n": 0, "method": name}
    import numpy as np

    data = np.asarray(values, dtype=float)
    value = float(statistic(data, axis=-1))
    if n < 2 or float(data.min()) == float(data.max()):
        return {"value": value, "ci": [value, value], "n": n, "method": name}  # no spread to resample
    from scipy.stats import bootstrap

    res = bootstrap((data,), statistic, n_resamples=BOOTSTRAP_RESAMPLES, confidence_level=CONFIDENCE,
                    method="percentile", vectorized=True, random_state=np.random.default_rng(seed))
    low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
    return {"value": value, "ci": [min(low, value), max(high, value)], "n": n, "method": name}


def percentile(values: list[float], q: float, seed: int = 0) -> dict:
    import numpy as np

    return bootstrap_statistic(values, lambda x, axis: np.percentile(x, q, axis=axis),
                               f"bootstrap percentile ({BOOTSTRAP_RESAMPLES} resamples)", seed)


def mean(values: list[float], seed: int = 0) -> dict:
    import numpy as np

    return bootstrap_statistic(values, lambda x, axis: np.mean(x, axis=axis),
                               f"bootstrap percentile ({BOOTSTRAP_RESAMPLES} resamples)", seed)


def permutation_test(statistic, n: int, n_reference: int, observed: float, seed: int = 0,
                     rounds: int = PERMUTATIONS) -> dict:
    """Permutation null of `statistic(reference_index, current_index)` over n pooled rows (reference first, then
    current): p-value (with the +1 correction, never 0) and the null's 95th percentile (the threshold)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    null = np.empty(rounds)
    for i in range(rounds):
        order = rng.permutation(n)
        null[i] = statistic(order[:n_reference], order[n_reference:])
    p = (1 + int(np.sum(null >= observed - 1e-12))) / (rounds + 1)
    return {"p_value": float(p), "threshold": float(np.quantile(null, CONFIDENCE)), "permutations": rounds}


def fmt_interval(d: dict | None, pct: bool = False, digits: int = 3) -> str:
    """'12.5% [10.1-15.0%]' or '0.123 [0.100-0.150]'; '-' when there is no value."""
    if not d or d.get("value") is None:
        return "-"
    f = (lambda v: f"{100 * v:.1f}") if pct else (lambda v: f"{v:.{digits}g}")
    unit = "%" if pct else ""
    ci = d.get("ci")
    return f"{f(d['value'])}{unit}" + (f" [{f(ci[0])}-{f(ci[1])}{unit}]" if ci else "")
