"""The input PSI rule under repeated checking (monitor/policy.py): the monitor checks a sliding window every few
requests, so a PSI alert needs the latest full window and the full window before it (not overlapping) both over
the limit and significant. One window's chance excursion does not fire; a shift that stays does. Synthetic rows,
no model: fast."""

from __future__ import annotations

import json

from tuneforge.config import MonitorPolicy
from tuneforge.monitor.policy import alerts, decide
from tuneforge.monitor.reference import Reference
from tuneforge.monitor.summary import summarise

LABELS = ["hardware", "software"]
WINDOW = 20


def _row(i, text):
    return {"id": i, "at": None, "status": 200, "latency_ms": 5.0, "confidence": 0.9, "correct_output": None,
            "request_json": json.dumps({"messages": [{"role": "user", "content": text}]}),
            "response_json": json.dumps({"choices": [{"message": {"role": "assistant", "content": "software"}}]})}


def _reference():
    train = [f"laptop {'stand ' * (i % 6)}{i}" for i in range(60)]  # 8 to 40 characters
    return Reference("inv:1", "inv", "run", None, train, {lab: 30 for lab in LABELS}, LABELS, None)


def _rows(kinds):
    """One row per character of `kinds`: 's' an input like the training inputs, 'L' a much longer one."""
    long = "annual enterprise licence renewal invoice number"
    return [_row(i, f"laptop {'stand ' * (i % 6)}{i % 60}" if k == "s" else f"{long} {i}") for i, k in enumerate(kinds)]


def _policy():
    # Only the input PSI rule within reach.
    return MonitorPolicy(window=WINDOW, min_estimated_accuracy=0.0, max_label_drift=1.0, max_domain_auc=1.0,
                         max_input_psi=0.5, min_corrections=1, min_fresh_inputs=0, min_new_label_reviews=0)


def _length_alerts(summary):
    return [a for a in alerts(summary["latest"], _policy(), summary.get("previous")) if a.startswith("input length")]


def test_one_window_over_the_psi_limit_by_chance_raises_no_alert():
    summary = summarise(_rows("s" * 2 * WINDOW + "L" * WINDOW), _reference(), WINDOW, history=False)
    latest, previous = summary["latest"], summary["previous"]
    # The latest window alone meets the single-window test: the old rule fired here.
    assert latest["length_psi"] > 0.5 and latest["length_psi_test"]["p_value"] < 0.05
    assert previous["length_psi"] < 0.5 and previous["requests"] == WINDOW
    assert previous["last_id"] < latest["first_id"]  # the two windows do not overlap
    assert _length_alerts(summary) == []
    assert not decide(summary, _policy(), new_corrections=100).retrain


def test_a_shift_that_stays_for_two_windows_raises_the_alert_and_a_retrain():
    summary = summarise(_rows("s" * WINDOW + "L" * 2 * WINDOW), _reference(), WINDOW, history=False)
    found = _length_alerts(summary)
    assert len(found) == 1 and "in the window before it" in found[0] and "permutation p = " in found[0]
    assert decide(summary, _policy(), new_corrections=100).retrain


def test_no_psi_alert_before_two_full_windows_were_served():
    summary = summarise(_rows("L" * (2 * WINDOW - 1)), _reference(), WINDOW, history=False)
    assert summary["previous"] is None and summary["latest"]["length_psi"] > 0.5
    assert _length_alerts(summary) == []


def test_the_charts_and_the_alerts_compute_each_window_once_and_agree(monkeypatch):
    """With the history charted, the latest and previous windows are charted windows: the same figures as the
    alert-only check, without running their permutation tests a second time. A window that is not charted (the
    requests do not fill whole windows) is still computed for the alerts."""
    import tuneforge.monitor.summary as summary_module

    rows, ref = _rows("s" * 2 * WINDOW + "L" * WINDOW), _reference()
    alone = summarise(rows, ref, WINDOW, history=False)
    calls = {"window": 0, "psi": 0}
    window_stats, input_psi = summary_module.window_stats, summary_module.input_psi

    def counted_window(*a, **k):
        calls["window"] += 1
        return window_stats(*a, **k)

    def counted_psi(*a, **k):
        calls["psi"] += 1
        return input_psi(*a, **k)

    monkeypatch.setattr(summary_module, "window_stats", counted_window)
    monkeypatch.setattr(summary_module, "input_psi", counted_psi)
    charted = summarise(rows, ref, WINDOW)
    assert len(charted["windows"]) == 3 and calls == {"window": 3, "psi": 3}  # one per charted window only
    for key in ("length_psi", "vocabulary_psi", "length_psi_test"):
        assert charted["latest"][key] == alone["latest"][key] and charted["previous"][key] == alone["previous"][key]
    assert charted["previous"]["first_id"] == WINDOW and charted["previous"]["requests"] == WINDOW
    calls.update(window=0, psi=0)
    summarise(rows[: 3 * WINDOW - 5], ref, WINDOW)  # windows of 20, 20 and 15: the latest 20 are not one of them
    assert calls == {"window": 4, "psi": 5}
