"""The maintenance cycle on a tiny model, fast: traffic and feedback, the review queue, the monitor's alerts with
and without drift, traffic export and retention, and a retrain that goes through the data workbench, the same
recipe, the gate and the registry's lineage."""

from __future__ import annotations

import json
import random
import sqlite3

import pytest
from conftest import SYSTEM, _LINES, chat_row, write_jsonl

from tuneforge.config import MonitorPolicy

LABELS = sorted(_LINES)
FROZEN = {"software": ["notion workspace", "zoom pro"], "travel": ["eurostar london", "uber ride"],
          "hardware": ["hp printer", "samsung ssd"]}  # the frozen evaluation set a deployed variant is scored on


def _deploy(tmp_path, label_data, tiny_model_dir, **train_settings) -> str:
    """A tiny variant trained for two steps, evaluated on a frozen set of 6 rows, registered as inv:1 in
    production; returns its reference."""
    from tuneforge.config import EvalConfig, TrainConfig
    from tuneforge.eval.compare import run_eval
    from tuneforge.registry.store import Registry
    from tuneforge.train.sft import train

    run = train(TrainConfig(data=str(label_data), base=str(tiny_model_dir), out=str(tmp_path / "run"), max_steps=2,
                            batch_size=4, progress=False, report_to="none", eval_split=0.2, **train_settings),
                log=lambda m: None)
    frozen = write_jsonl(tmp_path / "frozen.jsonl", [chat_row(t, lab) for lab, ts in FROZEN.items() for t in ts])
    run_eval(EvalConfig(model=str(run), data=str(frozen), baselines=False, bootstrap=0, html="none"),
             log=lambda m: None)
    registry = Registry()
    v = registry.register(run, "inv")
    registry.promote(v.ref, "production", require_gate=False, note="first deployment")
    registry.close()
    return v.ref


@pytest.fixture
def deployed(tmp_path, label_data, tiny_model_dir, one_torch_thread):
    """The no-flag variant of label data (a classification variant), deployed as inv:1."""
    return _deploy(tmp_path, label_data, tiny_model_dir)


@pytest.fixture
def deployed_generative(tmp_path, label_data, tiny_model_dir, one_torch_thread):
    """A generative variant of the same label data, deployed as inv:1: the monitor scores its labels itself."""
    return _deploy(tmp_path, label_data, tiny_model_dir, variant_type="generative")


def _log(traffic, rid, text, answer, confidence=None, variant="inv:1", status=200):
    traffic.record(request_id=rid, endpoint="chat.completion", model="inv", variant=variant, status=status,
                   latency_ms=12.0, request={"model": "inv", "messages": [{"role": "user", "content": text}]},
                   response={"id": rid, "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}}]},
                   label_probs=None if confidence is None else {answer: confidence}, confidence=confidence)


def test_feedback_review_queue_export_and_retention(deployed, tmp_path):
    from tuneforge.monitor.feedback import FeedbackStore, UnknownRequest
    from tuneforge.monitor.review_queue import build_queue
    from tuneforge.monitor.traffic_log import TrafficLog, traffic_path
    from tuneforge.monitor.traffic_query import export_jsonl, prune, query

    traffic = TrafficLog()
    _log(traffic, "chatcmpl-bad", "dell laptop", "banana", 0.9)         # outside the label set
    _log(traffic, "chatcmpl-low", "usb keyboard", "hardware", 0.2)      # least confident
    _log(traffic, "chatcmpl-mid", "taxi airport", "travel", 0.4)
    for i in range(12):
        _log(traffic, f"chatcmpl-ok{i}", f"github team plan {i}", "software", 0.95)
    traffic.close()

    items = build_queue("inv", limit=6, random_share=0.34, seed=3)
    reasons = [it.reason for it in items]
    assert reasons[0] == "invalid" and items[0].request_id == "chatcmpl-bad"
    low = [it.request_id for it in items if it.reason == "low_confidence"]
    assert low == ["chatcmpl-low", "chatcmpl-mid"]  # lowest confidence first
    assert reasons.count("random") == 2 and reasons[-2:] == ["random", "random"]
    assert items[0].labels == LABELS and items[0].to_json()["input"] == "dell laptop"

    store = FeedbackStore()
    store.add("chatcmpl-bad", correct_output="hardware", api_key="1:tf-abc", source="api")
    store.add("chatcmpl-low", rating=-1, comment="wrong")
    with pytest.raises(UnknownRequest):
        store.add("chatcmpl-nope", rating=1)
    store.close()
    assert "chatcmpl-bad" not in [it.request_id for it in build_queue("inv", limit=20)]  # reviewed: left out

    out = tmp_path / "export.jsonl"
    assert export_jsonl(query("inv", corrected_only=True, limit=None), out, SYSTEM) == 1
    row = json.loads(out.read_text())
    assert row["messages"][0] == {"role": "system", "content": SYSTEM}
    assert row["messages"][-1] == {"role": "assistant", "content": "hardware"}  # the correction, not "banana"

    conn = sqlite3.connect(traffic_path())
    conn.execute("UPDATE traffic SET at = '2000-01-01T00:00:00+00:00' WHERE request_id IN ('chatcmpl-bad', 'chatcmpl-ok0')")
    conn.commit()
    conn.close()
    assert prune(30) == 2
    left = {r["request_id"] for r in query("inv", limit=None)}
    assert "chatcmpl-bad" not in left and "chatcmpl-low" in left and len(left) == 13
    conn = sqlite3.connect(traffic_path())
    assert conn.execute("SELECT COUNT(*) FROM feedback WHERE request_id = 'chatcmpl-bad'").fetchone()[0] == 0
    conn.close()


def _stream(traffic, n, drift: bool, seed: int, start: int = 0):
    rng = random.Random(seed)
    for i in range(start, start + n):
        if drift:  # the mix moves to one label, on inputs unlike the training data, answered with low confidence
            label = "hardware" if rng.random() < 0.85 else rng.choice(LABELS)
            text, conf = f"kpn zakelijk mobiel abonnement {rng.randint(0, 99)} maand", rng.uniform(0.2, 0.5)
        else:
            label = rng.choice(LABELS)
            text, conf = rng.choice(_LINES[label]), rng.uniform(0.85, 0.99)
        _log(traffic, f"chatcmpl-{seed}-{i}", text, label, conf)


def test_monitor_alerts_on_drift_only_and_writes_the_html_report(deployed, tmp_path):
    from tuneforge.monitor.cycle import run_cycle
    from tuneforge.monitor.traffic_log import TrafficLog

    policy = MonitorPolicy(window=40, min_estimated_accuracy=0.7, min_corrections=5)
    traffic = TrafficLog()
    _stream(traffic, 80, drift=False, seed=1)
    traffic.flush()
    calm = run_cycle("inv", policy, score=False, html=tmp_path / "calm.html", log=lambda m: None)
    assert calm.verdict.alerts == [] and not calm.verdict.retrain
    assert calm.summary["requests"] == 80 and len(calm.summary["windows"]) == 2
    assert calm.summary["latest"]["estimated_accuracy"]["value"] > 0.85

    _stream(traffic, 40, drift=True, seed=2, start=80)
    traffic.close()
    drifted = run_cycle("inv", policy, score=False, html=tmp_path / "drift.html", log=lambda m: None)
    text = " | ".join(drifted.verdict.alerts)
    assert "label distribution drift" in text and "estimated accuracy" in text and "domain classifier" in text
    assert not drifted.verdict.retrain and "corrections" in drifted.verdict.reason  # none collected yet
    html = (tmp_path / "drift.html").read_text()
    assert html.count("<svg") >= 7 and "label distribution drift" in html and "<script" not in html
    latest = drifted.summary["latest"]
    for key in ("error", "valid", "confidence", "estimated_accuracy"):
        assert latest[key]["ci"][0] <= latest[key]["value"] <= latest[key]["ci"][1], key
    assert latest["latency"]["p50"]["n"] == 40 and latest["label_drift"]["n_current"] == 40
    assert latest["vocabulary_psi_test"]["p_value"] < 0.05 < calm.summary["latest"]["vocabulary_psi_test"]["p_value"]
    assert "<table class='latest'>" in html and "Wilson" in html and "permutation p = " in html


def test_label_probabilities_are_scored_and_stored_for_a_generative_variant(deployed_generative):
    """The label scores of a generative variant go through the temperature fitted on its frozen set (the one
    calibration fit of models/calibration.py) and are stored per request."""
    from tuneforge.monitor.confidence import LabelScorer, monitor_dir
    from tuneforge.monitor.cycle import run_cycle
    from tuneforge.monitor.reference import load_reference
    from tuneforge.monitor.traffic_log import TrafficLog, traffic_path
    from tuneforge.models.calibration import fit_temperature, softmax_rows

    traffic = TrafficLog()
    for i, (label, texts) in enumerate(_LINES.items()):
        _log(traffic, f"chatcmpl-s{i}", texts[0], label)  # no probabilities from the engine
    traffic.close()
    run_cycle("inv", MonitorPolicy(window=20), score=True, log=lambda m: None)
    conn = sqlite3.connect(traffic_path())
    rows = conn.execute("SELECT label_probs_json, confidence FROM traffic ORDER BY id").fetchall()
    conn.close()
    for probs_json, confidence in rows:
        probs = json.loads(probs_json)
        assert sorted(probs) == LABELS and sum(probs.values()) == pytest.approx(1.0)
        assert 0.0 <= confidence <= 1.0
    fitted = json.loads((monitor_dir(deployed_generative) / "calibration.json").read_text())
    scorer = LabelScorer(load_reference(deployed_generative))
    frozen = [[{"role": "user", "content": t}] for lab in ("software", "travel", "hardware")
              for t in FROZEN[lab]]
    truth = [scorer.ref.labels.index(lab) for lab in ("software", "travel", "hardware") for _ in FROZEN[lab]]
    assert fitted["fitted_on"] == 6
    assert fitted["temperature"] == pytest.approx(
        fit_temperature(scorer.raw_scores([scorer.prompt(m) for m in frozen]), truth), rel=1e-6)
    logged = [scorer.prompt([{"role": "user", "content": texts[0]}]) for texts in _LINES.values()]  # one batch
    expected = softmax_rows(scorer.raw_scores(logged), fitted["temperature"])
    assert [json.loads(r[0]) for r in rows] == [pytest.approx(dict(zip(scorer.ref.labels, p)), rel=1e-6)
                                                for p in expected]


def test_retrain_builds_a_dataset_version_trains_gates_and_records_lineage(deployed, tmp_path):
    from tuneforge.data.versions import resolve_data_path
    from tuneforge.monitor.feedback import FeedbackStore
    from tuneforge.monitor.retrain import retrain
    from tuneforge.monitor.traffic_log import TrafficLog
    from tuneforge.registry import lineage
    from tuneforge.registry.store import Registry

    traffic = TrafficLog()
    rng = random.Random(0)
    fixes = {}
    for i in range(40):
        label = rng.choice(LABELS)
        text = f"{rng.choice(_LINES[label])} invoice {i}"
        _log(traffic, f"chatcmpl-r{i}", text, "software", 0.5)
        fixes[f"chatcmpl-r{i}"] = label
    from tuneforge.monitor.request_inputs import is_held_out

    share = 0.5  # the policy's fresh_share below, not the default (0.3): the retrain must read it from the policy
    relabelled = next(t for t in _LINES["software"] if not is_held_out(t, share))  # learnt from, not held out
    contra = "chatcmpl-contra"
    _log(traffic, contra, relabelled, "software", 0.9)  # a training input, now relabelled by a reviewer
    # One held-out request asked three times is one piece of fresh evidence, not three.
    repeated = next(f"zoom meeting licence {i}" for i in range(100) if is_held_out(f"zoom meeting licence {i}", share))
    for k in range(3):
        _log(traffic, f"chatcmpl-rep{k}", repeated, "travel", 0.5)
        fixes[f"chatcmpl-rep{k}"] = "software"
    traffic.close()
    store = FeedbackStore()
    for rid, label in fixes.items():
        store.add(rid, correct_output=label)
    store.add(contra, correct_output="hardware")
    store.close()

    policy = MonitorPolicy(min_corrections=20, retrain_max_steps=1, gate_confidence=None, fresh_share=share)
    from tuneforge.monitor.fresh_evidence import fresh_inputs_waiting
    from tuneforge.monitor.traffic_log import traffic_path

    conn = sqlite3.connect(traffic_path())
    counted = fresh_inputs_waiting(conn, ["inv:1"], policy.fresh_share)  # what the policy counts before a retrain
    conn.close()
    said = []
    result = retrain("inv", policy, log=said.append, reason="test")
    # Started by hand below the policy's min_fresh_inputs (77 by default): the retrain runs, and says what it risks.
    assert any(f"only {counted} distinct held-out inputs for the fresh-traffic gate, fewer than the policy's "
               "min_fresh_inputs (77)" in m for m in said)
    rows = [json.loads(line) for line in resolve_data_path(result.dataset)[0].read_text().splitlines()]
    pairs = {(r["messages"][-2]["content"], r["messages"][-1]["content"]) for r in rows}
    assert (relabelled, "hardware") in pairs and (relabelled, "software") not in pairs
    assert result.report["data"]["overridden"] == [{"input": relabelled, "old": "software", "new": "hardware"}]
    assert result.report["data"]["corrections_added"] + result.report["fresh_reviewed"] == 42
    fresh_inputs = [json.loads(line)["messages"][-2]["content"]
                    for line in (result.folder / "fresh-reviewed.jsonl").read_text().splitlines()]
    assert fresh_inputs.count(repeated) == 1
    # The retrain holds out the policy's fresh_share: the very inputs the policy counted.
    assert all(is_held_out(t, share) for t in fresh_inputs) and len(fresh_inputs) == counted
    # The corrections this retrain used no longer count towards the next one: a refused retrain waits for new
    # corrections instead of firing again at the next check.
    from tuneforge.monitor.cycle import last_retrain_feedback_id, production_corrections

    used = last_retrain_feedback_id("inv", "inv:1")
    conn = sqlite3.connect(traffic_path())
    assert production_corrections(conn, "inv:1") == 44 and production_corrections(conn, "inv:1", used) == 0
    conn.close()
    store = FeedbackStore()
    store.add("chatcmpl-r0", correct_output="travel")
    store.close()
    conn = sqlite3.connect(traffic_path())
    assert production_corrections(conn, "inv:1", used) == 1
    conn.close()
    assert set(result.gates) == {"frozen", "fresh"}
    steps = [e["step"] for e in lineage.events("inv")]
    assert steps[:3] == ["dataset", "train", "gate"] and steps[3] in ("promote", "not promoted")
    registry = Registry()
    new = registry.get(result.new_ref)
    registry.close()
    passed = all(g["passed"] for g in result.gates.values())
    assert result.promoted == passed and new.stage == ("production" if passed else "candidate")
    assert (result.folder / "report.md").read_text().startswith("# Retrain of inv")


def test_without_fresh_evidence_a_retrain_stays_a_candidate_and_never_trains_on_held_out_inputs(deployed, tmp_path,
                                                                                                  monkeypatch):
    """Promotion needs both gates: not worse on the frozen set and better on fresh reviewed traffic. With fewer than
    the fresh gate's minimum of held-out inputs, a candidate that is merely not worse stays a candidate. And a near
    copy of a held-out input (here the same text with a full stop, which the split key keeps apart) is leakage,
    removed from the new training data."""
    import shutil

    from tuneforge.data.versions import resolve_data_path
    from tuneforge.monitor.feedback import FeedbackStore
    from tuneforge.monitor.request_inputs import is_held_out
    from tuneforge.monitor.retrain import retrain
    from tuneforge.monitor.traffic_log import TrafficLog
    from tuneforge.registry.store import Registry

    registry = Registry()
    production_run = registry.get(deployed).run_path
    registry.close()
    # The candidate is production's own run: it answers alike, so the frozen (non-inferiority) gate passes.
    monkeypatch.setattr("tuneforge.train.sft.train", lambda cfg, log=None: shutil.copytree(production_run, cfg.out))
    share = MonitorPolicy().fresh_share
    held = next(t for t in (f"adobe creative cloud annual licence {i}" for i in range(200))
                if is_held_out(t, share) and not is_held_out(t + ".", share))
    learn = [t for t in ("lenovo thinkpad usb-c dock", "samsung 27 inch monitor", "logitech wireless keyboard",
                         "apple magic mouse", "dell precision workstation", "brother laser printer")
             if not is_held_out(t, share)][:3]
    assert len(learn) == 3
    traffic = TrafficLog()
    for k, text in enumerate([held, held + "."] + learn):
        _log(traffic, f"chatcmpl-f{k}", text, "travel", 0.5)
    traffic.close()
    store = FeedbackStore()
    for k, label in enumerate(["software", "software"] + ["hardware"] * len(learn)):
        store.add(f"chatcmpl-f{k}", correct_output=label)
    store.close()

    result = retrain("inv", MonitorPolicy(min_corrections=3, gate_confidence=None), log=lambda m: None)
    assert set(result.gates) == {"frozen"} and result.gates["frozen"]["passed"]
    registry = Registry()
    stage = registry.get(result.new_ref).stage
    registry.close()
    assert not result.promoted and stage == "candidate"
    inputs = [json.loads(line)["messages"][-2]["content"]
              for line in resolve_data_path(result.dataset)[0].read_text().splitlines()]
    assert all(t in inputs for t in learn), inputs
    assert held + "." not in inputs and held not in inputs
    assert result.report["data"]["cleaning"]["leakage"]["affected"] >= 1


def test_cli_review_keyboard_flow_monitor_and_traffic_commands(deployed, tmp_path):
    from typer.testing import CliRunner

    from tuneforge.cli.main import app
    from tuneforge.monitor.feedback import FeedbackStore
    from tuneforge.monitor.traffic_log import TrafficLog

    traffic = TrafficLog()
    _log(traffic, "chatcmpl-a", "dell laptop", "banana", 0.9)
    _log(traffic, "chatcmpl-b", "usb keyboard", "hardware", 0.1)
    _log(traffic, "chatcmpl-c", "taxi airport", "travel", 0.3)
    traffic.close()
    runner = CliRunner()
    # Seed 0's queue: invalid (a), least confident of the rest (c), then the random sample (b).
    # Keys: "2" picks the 2nd label, Enter accepts, "e" types the answer.
    done = runner.invoke(app, ["review", "inv", "--limit", "3", "--seed", "0"], input="2\n\ne\ntravel\n")
    assert done.exit_code == 0, done.output
    assert [line.split()[1] for line in done.output.splitlines() if line.startswith("[")] == \
        ["invalid", "low_confidence", "random"]
    assert "reviewed 3, corrected 2" in done.output
    store = FeedbackStore()
    got = {f.request_id: (f.correct_output, f.source) for f in store.list("inv:1")}
    store.close()
    assert got["chatcmpl-a"] == (LABELS[1], "review:invalid")
    assert got["chatcmpl-c"] == ("travel", "review:low_confidence")  # accepted
    assert got["chatcmpl-b"] == ("travel", "review:random")  # edited

    html = tmp_path / "m.html"
    shown = runner.invoke(app, ["monitor", "inv", "--no-score", "--html", str(html)])
    assert shown.exit_code == 0, shown.output
    assert html.read_text().startswith("<!doctype html>")
    # Every figure of the terminal summary carries its interval ([low-high]) or its test (p = ...).
    for name in ("latency p50 ms", "latency p95 ms", "error rate (Wilson)", "valid answers (Wilson)",
                 "estimated accuracy (CBPE)", "mean confidence", "label drift", "input length PSI", "vocabulary PSI"):
        line = next(line for line in shown.output.splitlines() if line.strip().startswith(name))
        assert "[" in line or "p = " in line, line
    as_json = runner.invoke(app, ["monitor", "inv", "--no-score", "--json"])
    latest = json.loads(as_json.output)["latest"]
    assert latest["error"]["ci"] is not None and latest["valid"]["ci"][0] < latest["valid"]["value"] <= 1.0
    assert latest["latency"]["p95"]["ci"] == [12.0, 12.0]  # every logged latency is 12 ms: no spread
    assert latest["length_psi_test"]["p_value"] is not None and latest["label_drift"]["n_current"] == 3

    listed = runner.invoke(app, ["traffic", "list", "--variant", "inv", "--corrected"])
    assert listed.output.count("chatcmpl-") == 3 and "'banana'  -> 'software'" in listed.output
    out = tmp_path / "t.jsonl"
    assert "wrote 3 examples" in runner.invoke(app, ["traffic", "export", str(out), "--variant", "inv"]).output
    bad = runner.invoke(app, ["feedback", "chatcmpl-nope", "--rating", "1"])
    assert bad.exit_code == 1 and "chatcmpl-nope" in bad.output


def test_reviewers_naming_a_new_label_raise_an_alert_through_the_traffic_log(deployed, tmp_path):
    """The new-category rule end to end: corrections stored with FeedbackStore reach the window through the
    traffic log (load_rows) and make run_cycle alert and call for a retrain; a repeated request counts once."""
    from tuneforge.monitor.cycle import run_cycle
    from tuneforge.monitor.feedback import FeedbackStore
    from tuneforge.monitor.traffic_log import TrafficLog

    policy = MonitorPolicy(window=40, min_estimated_accuracy=0.0, min_corrections=3, min_fresh_inputs=0)
    traffic = TrafficLog()
    _stream(traffic, 40, drift=False, seed=1)
    fees = ["ing zakelijk rekening kosten", "rabobank transactiekosten", "ing zakelijk rekening kosten"]
    for i, text in enumerate(fees):
        _log(traffic, f"chatcmpl-fee{i}", text, "software", 0.9)
    traffic.close()
    store = FeedbackStore()
    for i in range(3):
        store.add(f"chatcmpl-fee{i}", correct_output="bank_fees", source="review:low_confidence")
    store.close()
    two = run_cycle("inv", policy, score=False, log=lambda m: None)
    assert two.summary["latest"]["new_labels_reviewed"] == {"bank_fees": 2}  # the repeated request counted once
    assert two.verdict.alerts == []

    traffic = TrafficLog()
    _log(traffic, "chatcmpl-fee3", "abn amro pakketkosten", "software", 0.9)
    traffic.close()
    store = FeedbackStore()
    store.add("chatcmpl-fee3", correct_output="Bank_fees", source="review:random")
    store.close()
    three = run_cycle("inv", policy, score=False, html=tmp_path / "m.html", log=lambda m: None)
    assert three.summary["latest"]["new_labels_reviewed"] == {"bank_fees": 3}
    assert any(a.startswith("new category named by reviewers: 'bank_fees' (3 distinct inputs")
               for a in three.verdict.alerts)
    assert three.verdict.retrain  # 4 corrections waiting, 3 needed
    assert "new labels in reviews" in (tmp_path / "m.html").read_text()


def test_a_retrain_waits_for_distinct_fresh_inputs_and_after_a_gate_for_new_ones(deployed):
    """run_cycle counts the distinct reviewed inputs the retrain would hold out (policy fresh_share) and calls for a
    retrain only at `min_fresh_inputs`; after a gated retrain only inputs first corrected after it count, so a
    refused candidate's successor is not tested again on the same evidence."""
    from tuneforge.monitor.cycle import run_cycle
    from tuneforge.monitor.feedback import FeedbackStore
    from tuneforge.monitor.request_inputs import is_held_out
    from tuneforge.monitor.traffic_log import TrafficLog, traffic_path
    from tuneforge.registry import lineage

    policy = MonitorPolicy(window=40, min_estimated_accuracy=0.0, min_corrections=3, min_fresh_inputs=4)
    fees = [t for t in (f"rabobank kosten {i}" for i in range(300)) if is_held_out(t, policy.fresh_share)]
    traffic = TrafficLog()
    _stream(traffic, 40, drift=False, seed=1)
    traffic.close()

    def review(texts, start):
        traffic = TrafficLog()
        for k, text in enumerate(texts):
            _log(traffic, f"chatcmpl-fee{start + k}", text, "software", 0.9)
        traffic.close()
        store = FeedbackStore()
        for k in range(len(texts)):
            store.add(f"chatcmpl-fee{start + k}", correct_output="bank_fees", source="review:low_confidence")
        store.close()

    review(fees[:3] + [fees[0]], 0)  # 4 corrections, 3 distinct inputs
    three = run_cycle("inv", policy, score=False, log=lambda m: None)
    assert three.verdict.alerts and not three.verdict.retrain
    assert three.verdict.fresh_inputs == 3 and "3 of 4 distinct fresh inputs" in three.verdict.reason
    review(fees[3:4], 4)
    four = run_cycle("inv", policy, score=False, log=lambda m: None)
    assert four.verdict.retrain and four.verdict.fresh_inputs == 4

    # A retrain read all of it and its gate refused the candidate.
    conn = sqlite3.connect(traffic_path())
    upto = conn.execute("SELECT MAX(id) FROM feedback").fetchone()[0]
    conn.close()
    lineage.record("inv", "gate", {"passed": False, "feedback_upto": upto}, parent_ref="inv:1")
    review(fees[0:3] + fees[4:7], 5)  # 6 new corrections, but 3 of them on inputs the refused gate read
    again = run_cycle("inv", policy, score=False, log=lambda m: None)
    assert not again.verdict.retrain and again.verdict.fresh_inputs == 3 and again.verdict.corrections == 6
    review(fees[7:8], 11)
    assert run_cycle("inv", policy, score=False, log=lambda m: None).verdict.retrain
