"""Label drift is measured against the variant's own answers on reference data, not the training labels: a
biased variant (its answer mix differs from the training labels) on unchanged traffic raises no alert, while a
real shift of the mix and a new category still do. Synthetic traffic, no model: fast."""

from __future__ import annotations

import json
import random

from tuneforge.config import MonitorPolicy
from tuneforge.monitor.policy import alerts
from tuneforge.monitor.reference import MIN_REFERENCE_ANSWERS, Reference, eval_answer_counts
from tuneforge.monitor.summary import window_stats

LABELS = ["hardware", "insurance", "marketing", "software", "telecom", "travel"]
# A weak variant's answers on traffic drawn uniformly from the labels: it says "software" and "travel" far too
# often and "marketing" almost never.
BIASED = [0.30, 0.05, 0.02, 0.08, 0.10, 0.45]


def _answers(rng, n, labels=LABELS, weights=BIASED):
    return rng.choices(labels, weights=weights, k=n)


def _counts(answers):
    out: dict[str, int] = {}
    for a in answers:
        out[a] = out.get(a, 0) + 1
    return out


def _rows(answers, seed):
    rng = random.Random(seed)
    return [{"id": i, "at": None, "status": 200, "latency_ms": 5.0, "confidence": rng.uniform(0.6, 0.9),
             "request_json": json.dumps({"messages": [{"role": "user", "content": f"invoice {rng.randint(0, 999)}"}]}),
             "response_json": json.dumps({"choices": [{"message": {"role": "assistant", "content": a}}]})}
            for i, a in enumerate(answers)]


def _reference(eval_answers):
    train = {lab: 30 for lab in LABELS}  # the training data is balanced
    return Reference("inv:1", "inv", "run", None, [f"invoice {i}" for i in range(180)], train, LABELS, None,
                     eval_answers=eval_answers)


def _label_alert(window):
    policy = MonitorPolicy(window=window["requests"], min_estimated_accuracy=0.0,
                           max_label_drift=0.2, drift_p_value=0.001, max_input_psi=10.0, max_domain_auc=1.0)
    return [a for a in alerts(window, policy) if a.startswith("label distribution drift")]


def test_a_biased_variant_on_unchanged_traffic_raises_no_label_drift_alert():
    # The reference: the same variant's 99 answers on its evaluation set (the biased mix).
    ref = _reference(_counts(_answers(random.Random(0), 99)))
    for seed in range(1, 9):
        window = window_stats(_rows(_answers(random.Random(seed), 100), seed), ref, domain=False)
        assert _label_alert(window) == [], (seed, window["label_drift"])
        assert window["label_drift"]["reference_kind"] == "eval answers"
        assert window["label_drift"]["reference"] == "inv:1's answers on its evaluation set (n = 99)"


def test_a_real_shift_and_a_new_category_are_still_flagged():
    ref = _reference(_counts(_answers(random.Random(0), 99)))
    shifted = [0.05, 0.05, 0.40, 0.05, 0.10, 0.15, 0.20]  # marketing surges, bank_fees appears
    answers = _answers(random.Random(5), 100, LABELS + ["bank_fees"], shifted)
    window = window_stats(_rows(answers, 5), ref, domain=False)
    found = _label_alert(window)
    assert found and "reference answers vs 100 answers" in found[0] and "new: bank_fees" in found[0]
    assert window["label_drift"]["new_categories"] == ["bank_fees"]


def test_without_eval_answers_the_training_labels_are_the_reference_and_named_so():
    ref = _reference({})
    window = window_stats(_rows(_answers(random.Random(3), 100), 3), ref, domain=False)
    assert window["label_drift"]["reference_kind"] == "training labels"
    assert window["label_drift"]["reference"] == "training labels (n = 180)"
    # ... which is what made the biased variant look drifted on unchanged traffic (the defect this fixes).
    assert _label_alert(window)


def test_eval_answer_counts_reads_the_variant_predictions_of_an_eval_json(tmp_path):
    n = MIN_REFERENCE_ANSWERS + 10
    examples = [{"input": f"x{i}", "reference": "hardware",
                 "predictions": {"fine-tuned": " Travel " if i % 3 else "hardware", "tf-idf": "software"}}
                for i in range(n)]
    path = tmp_path / "eval.json"
    path.write_text(json.dumps({"systems": {"fine-tuned": {"kind": "variant"}, "tf-idf": {"kind": "classical"}},
                                "examples": examples}))
    counts = eval_answer_counts(str(path))
    assert counts == {"travel": sum(1 for i in range(n) if i % 3), "hardware": sum(1 for i in range(n) if not i % 3)}
    path.write_text(json.dumps({"systems": {"fine-tuned": {}}, "examples": examples[: MIN_REFERENCE_ANSWERS - 1]}))
    assert eval_answer_counts(str(path)) == {}  # too few answers to stand for a mix: the training labels are used
    assert eval_answer_counts(None) == {} and eval_answer_counts(str(tmp_path / "none.json")) == {}
