"""The monitor's statistics on synthetic data whose truth is known: drift tests, PSI, the domain classifier,
temperature calibration and the label-free accuracy estimate (CBPE)."""

from __future__ import annotations

import random

import pytest

from tuneforge.monitor import drift
from tuneforge.monitor.estimate import estimated_accuracy, fit_temperature, measured_accuracy, softmax

LABELS = ["software", "travel", "hardware", "telecom"]


def _counts(labels, n, weights, seed):
    rng = random.Random(seed)
    out = {}
    for lab in rng.choices(labels, weights=weights, k=n):
        out[lab] = out.get(lab, 0) + 1
    return out


def test_label_drift_flags_a_shift_and_a_new_category_but_not_sampling_noise():
    ref = _counts(LABELS, 400, [1, 1, 1, 1], 0)
    same = drift.label_drift(ref, _counts(LABELS, 150, [1, 1, 1, 1], 1))
    assert same["test"] == "chi-square" and same["p_value"] > 0.01 and not same["new_categories"]
    shifted = drift.label_drift(ref, _counts(LABELS + ["bank_fees"], 150, [3, 1, 1, 1, 2], 2))
    assert shifted["p_value"] < 1e-6 and shifted["js_distance"] > 0.2
    assert shifted["new_categories"] == ["bank_fees"]
    big = drift.label_drift({k: v * 10 for k, v in ref.items()}, _counts(LABELS, 150, [1, 1, 1, 1], 3))
    assert big["test"] == "jensen-shannon"  # Evidently's rule: over 1,000 reference rows, a distance


def test_psi_is_near_zero_for_the_same_distribution_and_large_for_a_shift():
    rng = random.Random(0)
    ref = [rng.gauss(40, 8) for _ in range(500)]
    assert drift.psi(ref, [rng.gauss(40, 8) for _ in range(300)]) < 0.1
    assert drift.psi(ref, [rng.gauss(70, 8) for _ in range(300)]) > 0.25
    words_a = ["adobe licence", "github seats", "jira cloud plan", "slack annual"] * 50
    words_b = ["kpn mobiel abonnement", "vodafone sim", "ziggo internet"] * 50
    assert drift.vocabulary_psi(words_a, words_a[:100]) < 0.05
    assert drift.vocabulary_psi(words_a, words_b) > 1.0


def test_domain_classifier_auc_separates_different_inputs_only():
    rng = random.Random(0)
    vocab_a = ["invoice", "licence", "software", "seats", "cloud", "annual", "plan", "team"]
    vocab_b = ["fuel", "diesel", "station", "charging", "litre", "shell", "total", "pump"]
    make = lambda vocab, n: [" ".join(rng.choices(vocab, k=5)) + f" {rng.randint(0, 999)}" for _ in range(n)]  # noqa: E731
    same = drift.domain_classifier_auc(make(vocab_a, 120), make(vocab_a, 80))
    assert 0.3 < same["auc"] < 0.7
    # Traffic repeats requests; a repeat in both training and test folds must not look like drift.
    repeated = drift.domain_classifier_auc(make(vocab_a, 120), make(vocab_a, 40) * 4)
    assert 0.3 < repeated["auc"] < 0.7
    different = drift.domain_classifier_auc(make(vocab_a, 120), make(vocab_b, 80))
    assert different["auc"] > 0.95 and different["ci"][0] > 0.8


def test_temperature_fit_recovers_the_true_temperature():
    rng = random.Random(0)
    rows, truth = [], []
    for _ in range(600):
        scores = [rng.gauss(0, 2) for _ in range(4)]
        p = softmax(scores, 2.0)  # the data follow temperature 2
        rows.append(scores)
        truth.append(rng.choices(range(4), weights=p)[0])
    assert fit_temperature(rows, truth) == pytest.approx(2.0, rel=0.2)


def test_cbpe_estimate_tracks_accuracy_and_its_interval_covers_it_95_percent_of_the_time():
    rng = random.Random(1)
    covered, errors = 0, []
    for trial in range(300):
        mean_conf = (0.55, 0.75, 0.9)[trial % 3]
        confs = [min(max(rng.gauss(mean_conf, 0.08), 0.01), 0.99) for _ in range(200)]
        correct = [rng.random() < c for c in confs]  # calibrated: right with the stated probability
        est, true = estimated_accuracy(confs), sum(correct) / len(correct)
        covered += est["ci"][0] <= true <= est["ci"][1]
        errors.append(abs(est["value"] - true))
    assert 0.9 <= covered / 300 <= 0.99
    assert sum(errors) / len(errors) < 0.04
    meas = measured_accuracy([True] * 80 + [False] * 20)
    assert meas["value"] == 0.8 and meas["ci"][0] < 0.8 < meas["ci"][1]
    assert estimated_accuracy([])["value"] is None
