"""Metrics per task type, against values computed by hand in the comments."""

from __future__ import annotations

import json

import pytest

from tuneforge.eval.task_types import detect_task
from tuneforge.eval.tasks import classification, extraction, structured, text


def test_classification_by_hand():
    labels = ["a", "b", "c"]
    refs = ["a", "a", "b", "b", "c", "c"]
    preds = ["a", "b", "B.", "b", "c", "zzz"]  # "B." normalises to "b"; "zzz" is outside the label set
    rows = [classification.score_example(p, r, labels) for p, r in zip(preds, refs)]
    s = classification.summary(rows, labels)
    assert s["accuracy"] == pytest.approx(4 / 6)
    # a: P=1/1 R=1/2 F1=2/3; b: P=2/3 R=2/2 F1=0.8; c: P=1/1 R=1/2 F1=2/3
    assert s["per_class"]["a"] == pytest.approx({"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2})
    assert s["per_class"]["b"] == pytest.approx({"precision": 2 / 3, "recall": 1.0, "f1": 0.8, "support": 2})
    assert s["macro_f1"] == pytest.approx((2 / 3 + 0.8 + 2 / 3) / 3)
    assert s["out_of_label_share"] == pytest.approx(1 / 6)
    cm = s["confusion"]
    assert cm["columns"] == ["a", "b", "c", "(other)"]
    assert cm["counts"] == [[1, 1, 0, 0], [0, 2, 0, 0], [0, 0, 1, 1]]


def test_macro_f1_leaves_out_labels_the_test_set_lacks():
    # "c" is a label of the task but no reference row has it: it has no recall, so it does not count as F1 0.
    labels = ["a", "b", "c"]
    rows = [classification.score_example(r, r, labels) for r in ("a", "b", "a", "b")]
    assert classification.summary(rows, labels)["macro_f1"] == 1.0


def test_extraction_by_hand():
    refs = [
        {"supplier": "Acme GmbH", "total": 119.0, "date": "2024-03-12"},
        {"supplier": "Globex", "total": 10, "date": "2024-01-01"},
        {"supplier": "Initech", "total": 5.5, "date": "2024-02-02"},
        {"supplier": "Hooli", "total": 1, "date": "2024-04-04"},
    ]
    preds = [
        # supplier and total match after normalising (case, spaces, "119.00" == 119.0); date wrong; vat extra
        '{"supplier": "acme  gmbh", "total": "119.00", "date": "2024-03-13", "vat": 19}',
        "Sorry, I cannot read that invoice.",  # invalid: 3 false negatives
        '```json\n{"date": "2024-02-02", "supplier": "Initech", "total": 5.5}\n```',  # exact, other key order
        '{"supplier": "Hooli"}',  # total and date missing
    ]
    rows = [extraction.score_example(p, json.dumps(r)) for p, r in zip(preds, refs)]
    s = extraction.summary(rows)
    # tp = 2+0+3+1 = 6, fp = 2 (wrong date, extra vat), fn = 1+3+0+2 = 6
    assert s["field_precision"] == pytest.approx(6 / 8)
    assert s["field_recall"] == pytest.approx(6 / 12)
    assert s["field_f1"] == pytest.approx(0.6)
    assert s["exact_match"] == pytest.approx(1 / 4)
    assert s["valid_json"] == pytest.approx(3 / 4)
    assert s["per_field"]["supplier"] == pytest.approx({"precision": 1.0, "recall": 0.75, "f1": 6 / 7})
    assert s["per_field"]["total"] == pytest.approx({"precision": 1.0, "recall": 0.5, "f1": 2 / 3})
    assert s["per_field"]["date"] == pytest.approx({"precision": 0.5, "recall": 0.25, "f1": 1 / 3})
    assert "vat" not in s["per_field"]  # invented by a prediction: an extra key and a false positive above
    assert s["missing_keys"] == {"total": 1, "date": 1}
    assert s["extra_keys"] == {"vat": 1}
    assert s["examples_with_missing_keys"] == pytest.approx(1 / 4)


def test_structured_by_hand():
    sections = ["Profile", "Experience", "Skills"]
    long_profile = " ".join(["word"] * 20)
    preds = [
        "## Profile\nData engineer.\n## Experience\nFive years.\n## Skills\nPython",  # 11 words: all good
        "Skills: Python\nProfile: Engineer\nExperience: 5 years",  # all present, wrong order
        "**Profile:**\nA person\n**Skills:**\nSQL",  # Experience missing
        f"## Profile\n{long_profile}\n## Experience\nx\n## Skills\ny",  # in order but too long
    ]
    ref = "## Profile\nEngineer.\n## Experience\nSome.\n## Skills\nPython"
    rows = [structured.score_example(p, ref, sections, max_words=12) for p in preds]
    h = structured.headline(rows)
    assert [r["format_ok"] for r in rows] == [1.0, 0.0, 0.0, 0.0]
    assert h["format_ok"] == pytest.approx(1 / 4)
    assert h["sections_in_order"] == pytest.approx(2 / 4)
    assert h["sections_present"] == pytest.approx((1 + 1 + 2 / 3 + 1) / 4)
    assert h["within_length"] == pytest.approx(3 / 4)
    assert rows[2]["missing_sections"] == ["Experience"]
    assert structured.summary(rows)["missing_sections"] == {"Experience": 1}


def test_free_text_by_hand():
    rows = [text.score_example("the cat lay on the mat", "the cat sat on the mat"), text.score_example("ab", "abc")]
    # ROUGE-L: LCS "the cat on the mat" = 5 of 6 words on both sides -> P = R = F = 5/6
    assert rows[0]["rouge_l"] == pytest.approx(5 / 6)
    # chrF (beta 2, orders with n-grams on both sides): n=1 P=1 R=2/3, n=2 P=1 R=1/2 -> P=1, R=7/12,
    # F = 5PR / (4P + R) = (35/12) / (55/12) = 35/55
    assert rows[1]["chrf"] == pytest.approx(35 / 55)
    assert rows[1]["rouge_l"] == 0.0  # "ab" and "abc" share no word
    assert text.headline(rows)["rouge_l"] == pytest.approx(5 / 12)


def test_task_detection():
    assert detect_task(["x", "y", "x", "y", "x", "y"]).type == "classification"
    ex = detect_task(['{"a": "1", "b": 2}', '{"a": "3", "b": 4.5}'])
    assert (ex.type, ex.keys, ex.key_types) == ("extraction", ["a", "b"], {"a": "string", "b": "number"})
    cv = ["## Profile\nA\n## Skills\nB", "## Profile\nC\n## Skills\nD", "## Profile\nE\n## Skills\nF"]
    st = detect_task(cv)
    assert (st.type, st.sections) == ("structured", ["profile", "skills"])
    assert detect_task(["a long free answer", "another one", "and a third"]).type == "text"
    forced = detect_task(["x", "y"], forced="classification")
    assert forced.labels == ["x", "y"]
    with pytest.raises(ValueError, match="extraction needs every reference"):
        detect_task(["not json"], forced="extraction")


def test_few_held_out_rows_use_the_pool_to_recognise_labels():
    pool = ["travel", "software", "hardware"] * 4
    spec = detect_task(["travel", "software"], pool)  # two rows alone never look like labels
    assert spec.type == "classification" and spec.labels == ["hardware", "software", "travel"]
    assert detect_task(["travel", "a new answer"], pool).type == "text"
