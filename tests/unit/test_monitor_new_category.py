"""A new category named by reviewers (monitor/new_category.py, the policy's `min_new_label_reviews`): the rule
that catches a category the variant maps onto labels it knows, where the answer mix barely moves. Synthetic
rows, no model: fast."""

from __future__ import annotations

import json

from tuneforge.config import MonitorPolicy
from tuneforge.monitor.new_category import reviewed_new_labels
from tuneforge.monitor.policy import alerts, decide
from tuneforge.monitor.reference import Reference
from tuneforge.monitor.request_inputs import input_text
from tuneforge.monitor.summary import window_stats

LABELS = ["hardware", "insurance", "software", "travel"]


def _row(i, text, answer, correct=None):
    return {"id": i, "at": None, "status": 200, "latency_ms": 5.0, "confidence": 0.8, "correct_output": correct,
            "request_json": json.dumps({"messages": [{"role": "user", "content": text}]}),
            "response_json": json.dumps({"choices": [{"message": {"role": "assistant", "content": answer}}]})}


def _reference():
    return Reference("inv:1", "inv", "run", None, [f"laptop {i}" for i in range(40)], {lab: 10 for lab in LABELS},
                     LABELS, None, eval_answers={lab: 25 for lab in LABELS})


def _policy(**kw):
    # Every statistical rule out of reach: only the reviewers' new label can fire.
    return MonitorPolicy(**{"window": 20, "min_estimated_accuracy": 0.0, "max_label_drift": 1.0, "drift_p_value": 1e-9,
                            "max_input_psi": 1e9, "max_domain_auc": 1.0, "min_corrections": 1, **kw})


def _window(n_new, repeats=1, known_corrections=10, typo=False):
    rows, i = [], 0
    for k in range(known_corrections):  # ordinary corrections to labels the variant knows
        rows.append(_row(i, f"laptop stand {k}", "software", "hardware"))
        i += 1
    for k in range(n_new):  # the variant answers insurance; reviewers say bank_fees
        for _ in range(repeats):
            rows.append(_row(i, f"account fee {k}", "insurance", " Bank_Fees " if typo else "bank_fees"))
            i += 1
    while len(rows) < 20:
        rows.append(_row(i, f"flight {i}", "travel"))
        i += 1
    return window_stats(rows, _reference(), domain=False)


def test_three_distinct_inputs_corrected_to_an_unknown_label_raise_a_new_category_alert():
    window = _window(3, typo=True)  # case and spacing of the reviewer's answer do not matter
    assert window["new_labels_reviewed"] == {"bank_fees": 3}
    found = alerts(window, _policy())
    assert len(found) == 1 and "new category named by reviewers: 'bank_fees' (3 distinct inputs" in found[0]
    # ... and with enough corrections waiting, the policy calls for a retrain.
    assert decide({"latest": window}, _policy(), new_corrections=13).retrain


def test_known_labels_a_stray_correction_and_a_repeated_request_do_not_make_a_category():
    assert _window(0)["new_labels_reviewed"] == {}
    assert alerts(_window(0), _policy()) == []
    two = _window(2)
    assert two["new_labels_reviewed"] == {"bank_fees": 2} and alerts(two, _policy()) == []
    # one input asked five times and corrected each time is one piece of evidence, not five
    repeated = _window(1, repeats=5)
    assert repeated["new_labels_reviewed"] == {"bank_fees": 1} and alerts(repeated, _policy()) == []
    assert alerts(_window(3), _policy(min_new_label_reviews=0)) == []  # 0 turns the rule off


def test_the_latest_correction_of_an_input_wins_and_a_partial_window_counts():
    rows = [_row(0, "Account fee", "insurance", "bank_fees"), _row(1, "account  fee", "insurance", "insurance")]
    assert reviewed_new_labels(rows, LABELS, input_text) == {}  # the reviewer changed their mind
    partial = _window(3)
    partial["requests"] = 5  # too few for the statistical tests, but corrections are not sampling noise
    assert any("bank_fees" in a for a in alerts(partial, _policy()))


def test_the_statistical_alerts_wait_for_a_full_window():
    # Ten low-confidence answers: a full window of them would alert on the estimated accuracy; ten of forty do not.
    rows = [{**_row(i, f"laptop {i}", "hardware"), "confidence": 0.2} for i in range(10)]
    policy = MonitorPolicy(window=40, min_estimated_accuracy=0.7, min_new_label_reviews=0)
    assert alerts(window_stats(rows, _reference(), domain=False), policy) == []
    full = [{**_row(i, f"laptop {i % 10}", "hardware"), "confidence": 0.2} for i in range(40)]
    assert any("accuracy" in a for a in alerts(window_stats(full, _reference(), domain=False), policy))


def test_distinct_inputs_are_counted_by_the_key_the_retrain_splits_and_counts_by():
    from tuneforge.monitor.request_inputs import input_key

    # Case and spacing make no new input; punctuation does, as for the retrain's held-out split and fresh count:
    # the alert and the gate must agree on how many distinct inputs the reviewers corrected.
    texts = ["Account fee", "account   FEE", "Account fee.", "account-fee", "card fee"]
    rows = [_row(i, t, "insurance", "bank_fees") for i, t in enumerate(texts)]
    assert len({input_key(t) for t in texts}) == 4
    assert reviewed_new_labels(rows, LABELS, input_text) == {"bank_fees": 4}


def _reviewed(i, answer, correct, source, confidence):
    row = _row(i, f"line {i}", answer, correct)
    row.update(correct_source=source, confidence=confidence)
    return row


def _estimates(new: tuple[int, str, float], right: int, total: int, unreviewed_confidence: float):
    """A window of `total` requests: new = (k, source, confidence), k answers of 'insurance' that reviewers from
    `source` corrected to the new label bank_fees; then `right` random reviews that found 'travel' right
    (confidence 0.8); the rest unreviewed 'travel' answers. Returns (rows, CBPE, the adjusted estimate)."""
    from tuneforge.monitor.estimate import estimated_accuracy
    from tuneforge.monitor.new_category import adjusted_estimate

    k, source, confidence = new
    rows = [_reviewed(i, "insurance", "bank_fees", source, confidence) for i in range(k)]
    rows += [_reviewed(i, "travel", "travel", "review:random", 0.8) for i in range(k, k + right)]
    rows += [_row(i, f"line {i}", "travel") | {"confidence": unreviewed_confidence} for i in range(k + right, total)]
    cbpe = estimated_accuracy([r["confidence"] for r in rows])
    return rows, cbpe, adjusted_estimate(rows, LABELS, cbpe)


def test_cbpe_takes_out_the_new_category_share_of_random_reviews():
    # 100 requests; 10 reviewed at random: 3 of them corrected to bank_fees (answered with confidence 0.5).
    _, cbpe, adj = _estimates((3, "review:random", 0.5), right=7, total=100, unreviewed_confidence=0.68)
    assert adj["new_category_share"]["k"] == 3 and adj["new_category_share"]["n"] == 10
    assert adj["new_category_confidence"] == 0.5
    assert abs(adj["value"] - (cbpe["value"] - 0.3 * 0.5)) < 1e-12  # 0.677 - 0.15
    assert adj["ci"][0] <= adj["value"] <= adj["ci"][1] and adj["ci"][1] <= cbpe["ci"][1]
    # the share's own uncertainty widens the interval (3 of 10 is 11-60% at 95%)
    assert adj["ci"][1] - adj["ci"][0] > cbpe["ci"][1] - cbpe["ci"][0] + 0.2


def test_without_random_reviews_naming_a_new_label_the_estimate_is_cbpe():
    from tuneforge.monitor.new_category import adjusted_estimate

    # The low-confidence items of the queue are not a sample of the window: they say nothing about the share.
    rows, cbpe, adj = _estimates((5, "review:low_confidence", 0.4), right=7, total=60, unreviewed_confidence=0.7)
    assert adj["value"] == cbpe["value"] and adj["ci"] == cbpe["ci"] and adj["new_category_share"]["k"] == 0
    assert adjusted_estimate(rows[5:], LABELS, cbpe)["value"] == cbpe["value"]  # no new label at all
    # ... and window_stats carries it for a classification variant
    window = window_stats(rows, _reference(), domain=False)
    assert window["estimated_accuracy_adjusted"]["value"] == window["estimated_accuracy"]["value"]
