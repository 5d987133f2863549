"""The retrain waits for fresh evidence its gate can use (monitor/fresh_evidence.py, the policy's
`min_fresh_inputs` and `fresh_share`): the power calculation behind the default, the count of distinct held-out
inputs no earlier gate read, and the policy's decision. Synthetic rows in a temporary traffic log, no model."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from tuneforge.config import MonitorPolicy
from tuneforge.monitor.fresh_evidence import fresh_inputs_waiting, inputs_for_power
from tuneforge.monitor.policy import decide
from tuneforge.monitor.request_inputs import is_held_out


def test_the_default_is_the_power_calculation_and_the_size_has_the_power_it_claims():
    assert MonitorPolicy().min_fresh_inputs == inputs_for_power(0.20, 0.40) == 77
    # More inputs for a smaller improvement, for more discordance, for more power.
    assert inputs_for_power(0.10, 0.40) > 77 and inputs_for_power(0.20, 0.60) > 77
    assert inputs_for_power(0.20, 0.40, power=0.9) > 77 > inputs_for_power(0.20, 0.40, power=0.5)
    # Simulated paired samples of 77 inputs (30% fixed, 10% broken, the rest alike): a two-sided McNemar test at 95%
    # (normal approximation) finds the +20 points in about 80% of them.
    rng = np.random.default_rng(0)
    fixed, broken, _ = rng.multinomial(77, [0.3, 0.1, 0.6], size=4000).T
    z = (fixed - broken) / np.sqrt(np.maximum(fixed + broken, 1))
    assert 0.76 < float(np.mean(np.abs(z) > 1.959964)) < 0.85
    with pytest.raises(ValueError):
        inputs_for_power(0.3, 0.2)  # 30 points better with only 20% of inputs answered differently is impossible


def _held(share, n, prefix, held=True):
    """`n` texts on the chosen side of the retrain's split."""
    out = [f"{prefix} {i}" for i in range(1000) if is_held_out(f"{prefix} {i}", share) == held]
    return out[:n]


@pytest.fixture
def log():
    from tuneforge.monitor.feedback import FeedbackStore
    from tuneforge.monitor.traffic_log import TrafficLog, traffic_path

    counter = iter(range(10_000))

    def send(text, correct=None, variant="inv:1"):
        rid = f"chatcmpl-{next(counter)}"
        traffic = TrafficLog()
        traffic.record(request_id=rid, endpoint="chat.completion", model="inv", variant=variant, status=200,
                       latency_ms=1.0, request={"model": "inv", "messages": [{"role": "user", "content": text}]},
                       response={"id": rid, "choices": [{"index": 0, "message": {"role": "assistant",
                                                                              "content": "software"}}]})
        traffic.close()
        if correct:
            store = FeedbackStore()
            store.add(rid, correct_output=correct)
            store.close()
        return rid

    send.path = traffic_path
    return send


def test_a_reviewer_who_corrects_a_correction_is_the_one_retraining_learns(log):
    from tuneforge.monitor.feedback import FeedbackStore

    first = log("zoom pro annual", correct="hardware")
    other = log("taxi to the airport", correct="travel")
    store = FeedbackStore()
    try:
        store.add(first, correct_output="software")  # the reviewer fixes their own mistake
        got = {r["request_id"]: r["correct_output"] for r in store.corrections(["inv:1"])}
    finally:
        store.close()
    assert got == {first: "software", other: "travel"}


def _count(share, after=0, versions=("inv:1",)):
    from tuneforge.monitor.traffic_log import traffic_path

    conn = sqlite3.connect(traffic_path())
    try:
        return fresh_inputs_waiting(conn, list(versions), share, after)
    finally:
        conn.close()


def _last_feedback_id():
    from tuneforge.monitor.traffic_log import traffic_path

    conn = sqlite3.connect(traffic_path())
    try:
        return conn.execute("SELECT MAX(id) FROM feedback").fetchone()[0]
    finally:
        conn.close()


def test_fresh_inputs_are_distinct_held_out_inputs_not_read_by_an_earlier_gate(log):
    share = 0.5
    held, learnt = _held(share, 4, "bank fee"), _held(share, 3, "bank fee", held=False)
    for text in held + learnt:
        log(text, "bank_fees")
    log(held[0].upper() + "  ", "bank_fees")  # the same input asked again: still one piece of evidence
    log(held[1])  # asked again, not corrected
    log(_held(share, 1, "other version")[0], "bank_fees", variant="other:1")  # not a version counted here
    assert _count(share) == 4
    assert _count(share, versions=("inv:1", "other:1")) == 5
    # A smaller share holds out a subset (the split is monotone in the share).
    assert _count(0.2) == sum(is_held_out(t, 0.2) for t in held)

    # A gate read everything up to here: only inputs first corrected after it count for the next retrain.
    upto = _last_feedback_id()
    assert _count(share, upto) == 0
    log(held[2], "insurance")  # corrected again: the refused gate already read this input
    assert _count(share, upto) == 0
    new = _held(share, 2, "wire transfer")
    for text in new:
        log(text, "bank_fees")
    log(_held(share, 1, "wire transfer", held=False)[0], "bank_fees")  # learnt from, not fresh
    assert _count(share, upto) == 2 and _count(share) == 6


def _alerting_summary():
    window = {"requests": 100, "new_labels_reviewed": {"bank_fees": 5}}
    return {"latest": window}


def test_the_policy_waits_for_min_fresh_inputs_after_the_corrections():
    policy = MonitorPolicy(min_corrections=10, min_fresh_inputs=40, window=100)
    short = decide(_alerting_summary(), policy, new_corrections=200, fresh_inputs=39)
    assert not short.retrain and "39 of 40 distinct fresh inputs" in short.reason and short.fresh_inputs == 39
    assert decide(_alerting_summary(), policy, new_corrections=200, fresh_inputs=40).retrain
    few = decide(_alerting_summary(), policy, new_corrections=9, fresh_inputs=400)
    assert not few.retrain and "corrections" in few.reason
    # 0 turns the wait off; a caller that does not count fresh inputs keeps the old rule.
    assert decide(_alerting_summary(), policy.model_copy(update={"min_fresh_inputs": 0}), 200, 0).retrain
    assert decide(_alerting_summary(), policy, new_corrections=200).retrain
    assert not decide({"latest": {"requests": 100}}, policy, 200, 400).retrain  # no alert, no retrain
