"""Accuracy without labels (confidence-based performance estimation, as NannyML's CBPE) and with them.

With calibrated probabilities, the chance that an answer is right is the probability the model gave it, so the
expected accuracy of a window is the mean of those probabilities and its sampling spread that of a sum of
independent Bernoulli trials. Calibration is temperature scaling fitted on labelled reference data (the
variant's frozen evaluation set): one parameter, which keeps the ranking of labels and fixes over- or
under-confidence; the fit is models/calibration.py's, the one the trained head uses (monitor/confidence.py calls
it). Measured accuracy on reviewed traffic gets a Wilson interval.
"""

from __future__ import annotations

import math

Z95 = 1.959964


def estimated_accuracy(confidences: list[float]) -> dict:
    """CBPE for accuracy: mean confidence of the given answers, with a 95% normal interval."""
    n = len(confidences)
    if not n:
        return {"value": None, "ci": None, "n": 0}
    mean = sum(confidences) / n
    sd = math.sqrt(sum(p * (1 - p) for p in confidences)) / n
    return {"value": mean, "ci": [max(0.0, mean - Z95 * sd), min(1.0, mean + Z95 * sd)], "n": n}


def measured_accuracy(correct: list[bool]) -> dict:
    n = len(correct)
    if not n:
        return {"value": None, "ci": None, "n": 0}
    from scipy.stats import binomtest

    k = sum(correct)
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return {"value": k / n, "ci": [float(ci.low), float(ci.high)], "n": n}
