"""Each cleaning step finds its problem when planted and nothing on data without it."""

from __future__ import annotations

import json
import random

import pytest
from conftest import chat_row, write_jsonl
from typer.testing import CliRunner

from tuneforge.cli.main import app
from tuneforge.data import pii
from tuneforge.data.clean import CleanOptions, run_cleaning
from tuneforge.data.duplicates import contradictions, exact_duplicates, leakage, near_duplicates
from tuneforge.data.formats import Example, LoadResult
from tuneforge.data.outliers import structure_outliers
from tuneforge.data.similarity import similar_pairs
from tuneforge.data.suspects import label_suspects

VENDORS = {
    "software": ["Adobe Creative Cloud licence", "Microsoft 365 Business seats", "GitHub Team plan", "Slack Pro annual",
                 "Atlassian Jira Cloud", "Figma Professional editors", "Notion Plus workspace", "Zoom Pro licence"],
    "travel": ["KLM flight Amsterdam London", "NS train ticket Utrecht", "Hotel room Munich two nights",
               "Taxi to Schiphol airport", "Eurostar Brussels Paris", "Lufthansa flight Frankfurt",
               "Uber ride to client", "Deutsche Bahn ICE Berlin"],
    "hardware": ["Dell laptop Latitude 7440", "Lenovo ThinkPad monitor 27 inch", "Logitech wireless mouse",
                 "Apple MacBook Air M3", "USB-C docking station", "HP LaserJet printer", "Samsung SSD 2TB",
                 "Keyboard mechanical Cherry"],
}


def _ex(user: str, answer: str, line: int | None = None) -> Example:
    return Example([{"role": "user", "content": user}, {"role": "assistant", "content": answer}], line=line)


def _dataset(copies: int = 3) -> list[Example]:
    """Distinct, consistently labelled lines (each vendor line with a different period/reference)."""
    rng = random.Random(0)
    out = []
    for label, lines in VENDORS.items():
        for text in lines:
            for k in range(copies):
                out.append(_ex(f"{text}, invoice {rng.randint(1000, 99999)} period {k + 1}/2024", label))
    for i, e in enumerate(out, start=1):
        e.line = i
    return out


def test_clean_data_has_no_findings():
    data = _dataset()
    result = run_cleaning(LoadResult(data, [], "chat"))
    assert {s.name: s.count for s in result.steps} == {
        "invalid_rows": 0, "exact_duplicates": 0, "near_duplicates": 0, "contradictions": 0, "leakage": 0,
        "pii": 0, "structure_outliers": 0, "suspicious_labels": 0}
    assert result.step("leakage").action == "skipped" and len(result.kept) == len(data)


def test_exact_duplicates_ignore_case_spacing_and_punctuation():
    data = [_ex("Adobe CC licence", "software", 1), _ex("  adobe cc LICENCE. ", "Software", 2),
            _ex("Adobe CC licence", "hardware", 3), _ex("Adobe CC licences", "software", 4)]
    (f,) = exact_duplicates(data)
    assert f.lines == [1, 2]


def test_near_duplicates_need_similar_input_and_the_same_answer():
    data = [_ex("Figma Professional, 4 editors, billed yearly", "software", 1),
            _ex("Figma Professional, 4 editors, billed yearly (renewal)", "software", 2),
            _ex("Figma Professional, 4 editors, billed yearly (renewal)", "hardware", 3),
            _ex("Notion Plus workspace, 6 members", "software", 4)]
    groups = near_duplicates(data)
    assert [g.lines for g in groups] == [[1, 2]] and groups[0].score >= 0.8
    assert near_duplicates(data, threshold=0.99) == []


def test_contradictions_group_same_inputs_with_different_answers():
    data = _dataset()
    data.append(_ex(data[0].user_text + " ", "travel", 999))
    (f,) = contradictions(data)
    assert f.lines == [1, 999] and "software" in f.message and "travel" in f.message
    assert contradictions(_dataset()) == []


def test_leakage_finds_eval_inputs_in_training():
    train = _dataset()
    evals = [_ex(train[4].user_text, train[4].answer, 7), _ex("Completely different text about bananas", "x", 8)]
    (f,) = leakage(train, evals)
    assert f.lines == [5] and f.extra["eval_lines"] == [7]
    assert leakage(train, evals[1:]) == []


def test_leakage_finds_near_copies_in_data_clean_and_in_eval(tmp_path):
    """A held-out input that is a training input with other case, punctuation and one changed digit is leakage,
    for `data clean` and for `eval` alike: one definition (data/duplicates.py)."""
    from tuneforge.config import EvalConfig
    from tuneforge.eval.compare import check_leakage
    from tuneforge.eval.systems import Variant

    train = _dataset()
    source = train[4].user_text
    near = source.upper().replace(",", ";")[:-1] + "5"  # not an exact copy after any normalisation
    assert near.casefold() != source.casefold()
    evals = [_ex(near, train[4].answer, 7), _ex("Completely different text about bananas", "x", 8)]
    (f,) = leakage(train, evals)
    assert f.extra["eval_lines"] == [7] and 0.8 <= f.score < 1.0
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps({"messages": e.messages}) + "\n" for e in train))
    found = check_leakage(evals, [Variant("v", "run", {"data": {"path": str(data)}})], EvalConfig(model="m", data="d"),
                          log=lambda *_: None)
    assert found["v"]["overlap"] == 1 and found["v"]["lines"] == [7]


def test_minhash_candidates_are_confirmed_with_exact_jaccard():
    texts = ["alpha beta gamma delta", "alpha beta gamma delta!", "zeta eta theta iota kappa"]
    assert [(i, j) for i, j, _ in similar_pairs(texts, 0.9)] == [(0, 1)]
    assert [(i, j) for i, j, _ in similar_pairs(texts[:1], 0.9, others=texts[1:])] == [(0, 0)]


@pytest.mark.parametrize("text,kind", [
    ("contact jan.de.vries@example.nl please", "email"),
    ("call +31 20 555 0134 today", "phone"),
    ("tel. 020-555 0134", "phone"),
    ("pay to NL91 ABNA 0417 1643 00", "iban"),
    ("pay to DE89370400440532013000", "iban"),
    ("card 4111 1111 1111 1111 exp 12/26", "card"),
])
def test_pii_is_found(text, kind):
    assert [m.kind for m in pii.find_pii(text)] == [kind]


@pytest.mark.parametrize("text", [
    "Invoice 2024-0042, total 1.234,56 EUR",
    "billing 01.02.2024-31.01.2025, USD 1,728.00",
    "ticket 074-2381190455",
    "pay to NL91 ABNA 0417 1643 01",  # IBAN with a wrong checksum
    "card 4111 1111 1111 1112",  # fails Luhn
    "order 1234567890123456",  # 16 digits, no card issuer prefix
])
def test_pii_false_positives_are_rejected(text):
    assert pii.find_pii(text) == []


def test_pii_flag_redact_and_drop():
    data = _dataset()
    data[2] = _ex("Zoom Pro licence, admin mail it@acme.example.com", "software", 3)
    load = LoadResult(data, [], "chat")
    flagged = run_cleaning(load)
    assert flagged.step("pii").count == 1 and flagged.step("pii").findings[0].lines == [3]
    assert "it@acme.example.com" not in flagged.step("pii").findings[0].message  # the report masks it
    redacted = run_cleaning(load, opts=CleanOptions(pii="redact"))
    assert redacted.kept[2].user_text == "Zoom Pro licence, admin mail [EMAIL]"
    assert data[2].user_text.endswith("example.com")  # the input list is not modified
    dropped = run_cleaning(load, opts=CleanOptions(pii="drop"))
    assert len(dropped.kept) == len(data) - 1


def test_pii_is_redacted_from_both_answers_of_a_preference_pair(tmp_path):
    pair = {"input": {"messages": [{"role": "user", "content": "who handles refunds?"}]},
            "preferred_output": [{"role": "assistant", "content": "The billing team."}],
            "non_preferred_output": [{"role": "assistant", "content": "Mail ann.lee@acme.example.com"}]}
    path = write_jsonl(tmp_path / "pairs.jsonl", [pair])
    r = CliRunner().invoke(app, ["data", "clean", str(path), "--pii", "redact", "--out", str(tmp_path / "clean.jsonl")])
    assert r.exit_code == 0, r.output
    cleaned = (tmp_path / "clean.jsonl").read_text()
    assert "ann.lee@acme.example.com" not in cleaned
    assert json.loads(cleaned)["non_preferred_output"][0]["content"] == "Mail [EMAIL]"


def test_json_answers_missing_majority_keys_are_outliers():
    data = [_ex(f"invoice {k}", json.dumps({"supplier": "A", "total": k, "date": "2024-01-01"}), k) for k in range(12)]
    assert structure_outliers(data) == []
    data.append(_ex("invoice x", json.dumps({"supplier": "B", "total": 3}), 50))
    data.append(_ex("invoice y", "The total is 3", 51))
    found = structure_outliers(data)
    assert [f.lines for f in found] == [[50], [51]]
    assert "['date']" in found[0].message and "not a JSON object" in found[1].message


def test_label_outside_the_label_set_suggests_the_close_one():
    data = _dataset()
    assert structure_outliers(data) == []
    data.append(_ex("Slack Pro annual, invoice 4", "sofware", 100))
    (f,) = structure_outliers(data)
    assert f.lines == [100] and "did you mean 'software'" in f.message


def test_suspicious_labels_flag_the_mislabelled_row_only():
    data = _dataset(copies=4)
    assert label_suspects(data)[0] == []
    data[10] = _ex(data[10].user_text, "travel", data[10].line)  # a software line labelled travel
    found, skipped, _ = label_suspects(data)
    assert skipped is None and [f.lines for f in found] == [[11]]
    assert found[0].extra == {"label": "travel", "data_says": "software"}


def test_suspects_skip_non_label_answers():
    data = [_ex(f"q{k}", f"a long free text answer number {k}", k) for k in range(30)]
    assert label_suspects(data) == ([], "answers are not labels", None)


def test_clean_command_writes_cleaned_data_and_a_report(tmp_path):
    rows = [e.to_json() for e in _dataset()]
    rows.append(rows[0])
    rows.append(chat_row("Zoom Pro licence, call +31 20 555 0134", "software", system=None))
    path = write_jsonl(tmp_path / "train.jsonl", rows)
    path.write_text(path.read_text() + "{broken\n", encoding="utf-8")
    evals = write_jsonl(tmp_path / "eval.jsonl", [rows[5]])
    out = tmp_path / "clean.jsonl"
    result = CliRunner().invoke(app, ["data", "clean", str(path), "--eval-data", str(evals), "--out", str(out),
                                      "--pii", "redact"])
    assert result.exit_code == 0, result.output
    assert "1. Invalid rows: 1 found, 1 example(s) removed" in result.output
    assert "2. Exact duplicates: 1 found, 1 example(s) removed" in result.output
    assert "5. Train/eval leakage: 1 found, 1 example(s) removed" in result.output
    assert "6. Personal data (e-mail, phone, IBAN, card): 1 found, 1 example(s) redacted" in result.output
    kept = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(kept) == len(rows) - 2 and kept[-1]["messages"][0]["content"] == "Zoom Pro licence, call [PHONE]"
    report = json.loads((tmp_path / "clean.report.json").read_text())
    assert [s["step"] for s in report["steps"]][:3] == ["invalid_rows", "exact_duplicates", "near_duplicates"]
    refused = CliRunner().invoke(app, ["data", "clean", str(path), "--out", str(path)])
    assert refused.exit_code == 1 and "would overwrite the input" in refused.output
