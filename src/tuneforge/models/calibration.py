"""Temperature scaling of a classifier's logits on held-out data, and the expected calibration error.

A fine-tuned head is usually over-confident: its top probability says 99% where it is right 85% of the time.
One scalar temperature T (probabilities = softmax(logits / T)) fitted by minimising the held-out negative
log-likelihood fixes most of that without changing any prediction (argmax is unchanged by T > 0), as in Guo et
al., "On Calibration of Modern Neural Networks" (2017). ECE is the usual measure: the gap between confidence
and accuracy averaged over equal-width confidence bins, weighted by how many predictions fall in each bin.
"""

from __future__ import annotations

import math

ECE_BINS = 10
T_MIN, T_MAX = 0.05, 20.0  # search range; the bounds keep a degenerate held-out set from driving T to 0 or inf


def softmax_rows(logits: list[list[float]], temperature: float = 1.0) -> list[list[float]]:
    out = []
    for row in logits:
        scaled = [x / temperature for x in row]
        top = max(scaled)
        exps = [math.exp(x - top) for x in scaled]
        total = sum(exps)
        out.append([e / total for e in exps])
    return out


def nll(logits: list[list[float]], labels: list[int], temperature: float) -> float:
    probs = softmax_rows(logits, temperature)
    return -sum(math.log(max(p[y], 1e-12)) for p, y in zip(probs, labels)) / max(len(labels), 1)


def expected_calibration_error(probs: list[list[float]], labels: list[int], bins: int = ECE_BINS) -> float:
    """Sum over confidence bins of |accuracy - mean confidence| x share of predictions in the bin."""
    confidences = [max(p) for p in probs]
    return calibration_error(confidences, [p.index(c) == y for p, c, y in zip(probs, confidences, labels)], bins)


def calibration_error(confidences: list[float], correct: list[bool], bins: int = ECE_BINS) -> float:
    """ECE from each answer's confidence (its probability) and whether it was right: what an evaluation has for
    every system that gives a probability with its answer."""
    if not confidences:
        return 0.0
    totals = [[0, 0.0, 0] for _ in range(bins)]  # count, confidence sum, correct
    for conf, right in zip(confidences, correct):
        b = min(int(conf * bins), bins - 1)
        totals[b][0] += 1
        totals[b][1] += conf
        totals[b][2] += int(right)
    n = len(confidences)
    return sum(abs(right / count - conf_sum / count) * count / n for count, conf_sum, right in totals if count)


def fit_temperature(logits: list[list[float]], labels: list[int]) -> float:
    """The T in [T_MIN, T_MAX] that minimises held-out NLL: a bounded scalar search on log T, so that the search
    is as fine at T = 0.1 as at T = 10 (relative tolerance 1e-8; NLL is unimodal in T, so this is its minimum).
    The one temperature fit of the project: the head's, the fused scores' and the monitor's for label scores."""
    if not labels:
        return 1.0
    from scipy.optimize import minimize_scalar

    res = minimize_scalar(lambda log_t: nll(logits, labels, math.exp(log_t)),
                          bounds=(math.log(T_MIN), math.log(T_MAX)), method="bounded", options={"xatol": 1e-8})
    return float(math.exp(res.x))


def calibrate(logits: list[list[float]], labels: list[int]) -> dict:
    """Fit T on (logits, labels) and report ECE and NLL before and after. The figures after are those of the T
    recorded (rounded), which is the T that predict and the server apply."""
    t = round(fit_temperature(logits, labels), 4)
    before, after = softmax_rows(logits, 1.0), softmax_rows(logits, t)
    return {
        "method": "temperature",
        "temperature": t,
        "examples": len(labels),
        "ece_before": round(expected_calibration_error(before, labels), 4),
        "ece_after": round(expected_calibration_error(after, labels), 4),
        "nll_before": round(nll(logits, labels, 1.0), 4),
        "nll_after": round(nll(logits, labels, t), 4),
    }


def describe(report: dict) -> str:
    """One line for the terminal from a `calibrate` report (the head's, or the fused probabilities')."""
    n = report["examples"]
    return (f"temperature {report['temperature']:.3f} fitted on {n} held-out examples: expected calibration error "
            f"{100 * report['ece_before']:.1f}% -> {100 * report['ece_after']:.1f}%, log-loss "
            f"{report['nll_before']:.4f} -> {report['nll_after']:.4f}"
            + (" (few held-out examples: ECE is noisy)" if n < 100 else ""))
