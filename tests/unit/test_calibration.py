"""Temperature scaling and expected calibration error, checked against values worked out by hand."""

from __future__ import annotations

import math
import random

import pytest

from tuneforge.models.calibration import (calibrate, calibration_error, expected_calibration_error, fit_temperature,
                                          softmax_rows)


def test_ece_by_hand():
    # Two predictions at confidence 0.9 (one right), two at 0.6 (both right):
    # bin 0.9: |0.5 - 0.9| * 2/4 = 0.2 ; bin 0.6: |1.0 - 0.6| * 2/4 = 0.2  -> ECE 0.4
    probs = [[0.9, 0.1], [0.9, 0.1], [0.4, 0.6], [0.4, 0.6]]
    labels = [0, 1, 1, 1]
    assert expected_calibration_error(probs, labels) == pytest.approx(0.4)


def test_ece_from_answers_and_their_confidence_by_hand():
    # What an evaluation has: each answer's probability and whether it was right. Bin 0.95: 1 of 2 right ->
    # |0.5 - 0.95| x 2/5 = 0.18; bin 0.7: 2 of 3 right at mean 0.7 -> |0.667 - 0.7| x 3/5 = 0.02  -> ECE 0.2
    assert calibration_error([0.95, 0.95, 0.7, 0.7, 0.7], [True, False, True, True, False]) == pytest.approx(0.2)
    assert calibration_error([1.0], [True]) == 0.0 and calibration_error([], []) == 0.0


def test_perfectly_calibrated_has_zero_ece():
    probs = [[0.75, 0.25]] * 4
    assert expected_calibration_error(probs, [0, 0, 0, 1]) == pytest.approx(0.0)


def test_temperature_recovers_overconfidence():
    """Logits drawn from a model calibrated at T=1, then multiplied by 3 (over-confident): T comes back near 3,
    ECE falls, and no prediction changes."""
    rng = random.Random(0)
    logits, labels = [], []
    for _ in range(2000):
        row = [rng.gauss(0, 1.5) for _ in range(4)]
        probs = softmax_rows([row])[0]
        labels.append(rng.choices(range(4), probs)[0])
        logits.append([3 * x for x in row])
    t = fit_temperature(logits, labels)
    assert 2.6 < t < 3.4
    report = calibrate(logits, labels)
    assert report["ece_after"] < report["ece_before"] / 2
    assert report["nll_after"] < report["nll_before"]
    before = [max(range(4), key=r.__getitem__) for r in softmax_rows(logits)]
    after = [max(range(4), key=r.__getitem__) for r in softmax_rows(logits, t)]
    assert before == after


def test_no_held_out_keeps_temperature_one():
    assert fit_temperature([], []) == 1.0
    assert math.isclose(sum(softmax_rows([[1.0, 2.0, 3.0]], 0.5)[0]), 1.0)


def test_a_head_alone_divides_its_logits_by_the_fitted_temperature():
    """The calibrated probabilities of a variant without n-gram fusion (--no-classifier-fusion): softmax(z / T)."""
    import torch

    from tuneforge.models.classifier import Classifier

    clf = Classifier(model=None, tokenizer=None, labels=["a", "b"], temperature=2.0)
    clf.logits = lambda texts, batch_size=32: torch.tensor([[2.0, 0.0]] * len(texts))
    assert clf.probabilities(["x"])[0] == pytest.approx([1 / (1 + math.exp(-1)), 1 / (1 + math.e)])
    assert clf.predict(["x", "y"])[1][0] == "a"
