"""The monitor's statistics on synthetic data whose truth is known: drift tests, PSI, the domain classifier and
the label-free accuracy estimate (CBPE). Its temperature fit is models/calibration.py's, tested in
test_calibration.py."""

from __future__ import annotations

import random

import pytest

from tuneforge.monitor import drift
from tuneforge.monitor.estimate import estimated_accuracy, measured_accuracy

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


def test_wilson_and_bootstrap_intervals_cover_the_truth_about_95_percent_of_the_time():
    from tuneforge.monitor import intervals

    rng = random.Random(2)
    wilson_hits = boot_hits = 0
    trials = 120
    true_p95 = 2.0 ** 1.6448536  # 2 ** z with z ~ N(0, 1): its 95th percentile is 2 ** z95
    for _ in range(trials):
        k = sum(rng.random() < 0.08 for _ in range(60))  # an error rate of 8% over 60 requests
        ci = intervals.wilson(k, 60)["ci"]
        wilson_hits += ci[0] <= 0.08 <= ci[1]
        latencies = [2.0 ** rng.gauss(0, 1) for _ in range(300)]  # skewed, as latencies are
        p95 = intervals.percentile(latencies, 95, seed=rng.randint(0, 999))
        boot_hits += p95["ci"][0] <= true_p95 <= p95["ci"][1]
        assert p95["ci"][0] <= p95["value"] <= p95["ci"][1]
    assert 0.88 <= wilson_hits / trials <= 1.0
    assert 0.85 <= boot_hits / trials <= 1.0
    # Edge cases: no requests, all the same latency, no errors (Wilson stays inside [0, 1] and is not [0, 0]).
    assert intervals.wilson(0, 0)["ci"] is None and intervals.percentile([], 50)["value"] is None
    assert intervals.percentile([5.0] * 10, 95)["ci"] == [5.0, 5.0]
    zero = intervals.wilson(0, 40)["ci"]
    assert zero[0] == 0.0 and 0.05 < zero[1] < 0.12


def test_poisson_volume_interval():
    from tuneforge.monitor import intervals

    rate = intervals.poisson_rate(100, 3600.0)
    assert rate["value"] == pytest.approx(100.0)
    assert rate["ci"][0] == pytest.approx(81.4, abs=0.5) and rate["ci"][1] == pytest.approx(121.6, abs=0.5)
    assert intervals.poisson_rate(5, 0.0)["value"] is None  # one instant: no rate to speak of


def test_psi_permutation_test_keeps_its_false_alarm_rate_and_flags_a_shift():
    rng = random.Random(3)
    ref = [rng.gauss(40, 8) for _ in range(300)]
    false_alarms = 0
    for i in range(30):
        same = drift.psi_test(ref, [rng.gauss(40, 8) for _ in range(60)], seed=i)
        false_alarms += same["p_value"] < 0.05
    assert false_alarms <= 5  # about 5% expected; 5 of 30 has probability < 2% at 5%
    shifted = drift.psi_test(ref, [rng.gauss(55, 8) for _ in range(60)])
    assert shifted["p_value"] < 0.01 and shifted["value"] > shifted["threshold"]
    # The same-distribution threshold depends on the sample size: the 0.1/0.25 rules of thumb do not.
    small = drift.psi_test(ref, [rng.gauss(40, 8) for _ in range(30)])["threshold"]
    large = drift.psi_test(ref, [rng.gauss(40, 8) for _ in range(600)])["threshold"]
    assert small > 2 * large and small > 0.25

    texts_a = ["adobe licence", "github seats", "jira cloud plan", "slack annual", "figma team"]
    texts_b = ["kpn mobiel abonnement", "vodafone sim", "ziggo internet"]
    ref_texts = [rng.choice(texts_a) + f" {rng.randint(0, 9)}" for _ in range(300)]
    calm = drift.vocabulary_psi_test(ref_texts, [rng.choice(texts_a) + f" {rng.randint(0, 9)}" for _ in range(80)])
    moved = drift.vocabulary_psi_test(ref_texts, [rng.choice(texts_b) for _ in range(80)])
    assert calm["p_value"] > 0.05 and moved["p_value"] < 0.01
    shifted_texts = [rng.choice(texts_b) for _ in range(50)]
    assert drift.vocabulary_psi_test(ref_texts, shifted_texts)["value"] == pytest.approx(
        drift.vocabulary_psi(ref_texts, shifted_texts))  # the test's statistic is the PSI the monitor reports


def test_psi_alert_needs_its_permutation_test_and_alerts_name_the_test_and_sizes():
    from tuneforge.config import MonitorPolicy
    from tuneforge.monitor.policy import alerts

    policy = MonitorPolicy(window=50, max_input_psi=0.25, min_estimated_accuracy=0.0)
    noisy = {"value": 0.4, "p_value": 0.3, "threshold": 0.45, "n_reference": 300, "n_current": 50}
    real = {"value": 0.9, "p_value": 0.005, "threshold": 0.45, "n_reference": 300, "n_current": 50}
    window = {"requests": 50, "length_psi": 0.4, "length_psi_test": noisy, "vocabulary_psi": 0.9,
              "vocabulary_psi_test": real,
              "label_drift": {"js_distance": 0.3, "p_value": 1e-5, "n_reference": 300, "n_current": 50,
                              "new_categories": ["bank_fees"], "test": "chi-square"},
              "domain": {"auc": 0.9, "ci": [0.82, 0.97]}}
    text = " | ".join(alerts(window, policy, previous=window))  # the PSI rule also needs the window before it
    assert "input length PSI" not in text  # over 0.25, but same-distribution samples of 50 reach it (p = 0.3)
    assert "vocabulary PSI 0.900 > 0.25 (permutation p = 0.005" in text and "n = 300 vs 50" in text
    assert "chi-square p = 1e-05 (n = 300 training vs 50 answers); new: bank_fees" in text
    assert "ROC AUC 0.900 (95% CI 0.820-0.970)" in text


def test_estimated_accuracy_alerts_only_when_its_whole_interval_is_below_the_limit():
    # Over 50 answers a calibrated model that is right 68% of the time has an interval up to about 0.81: below a
    # 0.7 limit by its point estimate, not by the evidence. At 50% the interval stops near 0.64, and it alerts.
    from tuneforge.config import MonitorPolicy
    from tuneforge.monitor.policy import alerts

    policy = MonitorPolicy(window=50, min_estimated_accuracy=0.7, max_label_drift=1.0, max_domain_auc=1.0)
    near = estimated_accuracy([0.68] * 50)
    assert near["value"] < 0.7 < near["ci"][1]
    assert alerts({"requests": 50, "estimated_accuracy": near}, policy) == []
    low = estimated_accuracy([0.5] * 50)
    assert low["ci"][1] < 0.7
    assert alerts({"requests": 50, "estimated_accuracy": low}, policy) == [
        f"estimated accuracy 0.500 (95% CI {low['ci'][0]:.3f}-{low['ci'][1]:.3f}) is below 0.7"]
