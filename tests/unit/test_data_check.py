"""`tuneforge data check` as users run it: each check fires on data that has the problem and not on data without.

Exit codes: 0 clean, 1 errors, 3 warnings only.
"""

from __future__ import annotations

import json

from conftest import chat_row, write_jsonl
from typer.testing import CliRunner

from tuneforge.cli.main import app
from tuneforge.data.formats import parse_data
from tuneforge.data.validate import check_loaded

LABELS = ["software", "travel", "hardware", "telecom"]


def _labelled(n_per_label: int, labels=LABELS) -> list[dict]:
    return [chat_row(f"invoice line {label} {k}", label) for label in labels for k in range(n_per_label)]


def _check(path, *args):
    result = CliRunner().invoke(app, ["data", "check", str(path), "--base", "none", *args])
    return result.exit_code, result.output


def test_clean_file_exits_0_and_names_the_format(tmp_path):
    code, out = _check(write_jsonl(tmp_path / "ok.jsonl", _labelled(30)))
    assert code == 0, out
    assert "format: chat (detected)" in out and "examples: 120 valid" in out and "0 error(s), 0 warning(s)" in out


def test_row_errors_exit_1_with_file_line_field_and_hint(tmp_path):
    rows = _labelled(30)
    rows[3] = {"messages": [{"role": "user", "content": "q"}, {"role": "bot", "content": "a"}]}
    rows[7] = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "  "}]}
    rows[9] = {"messages": [{"role": "assistant", "content": "a"}, {"role": "user", "content": "q"}]}
    rows[11] = {"messages": [{"role": "user", "content": 5}, {"role": "assistant", "content": "a"}]}
    path = write_jsonl(tmp_path / "bad.jsonl", rows)
    path.write_text(path.read_text() + '{"messages": [\n', encoding="utf-8")
    code, out = _check(path)
    assert code == 1
    assert f"{path}:4: error [messages[1].role]: unknown role 'bot' (hint: use one of system, user, assistant)" in out
    assert f"{path}:8: error [messages[1].content]: is empty" in out
    assert f"{path}:10: error [messages[1].role]: last turn is 'user'" in out
    assert f"{path}:12: error [messages[0].content]: must be a string, got int" in out
    assert f"{path}:121: error: bad JSON" in out


def test_too_few_examples_is_an_error_and_under_100_a_warning(tmp_path):
    code, out = _check(write_jsonl(tmp_path / "tiny.jsonl", _labelled(2)))
    assert code == 1 and "only 8 valid example(s); at least 10 are needed" in out
    code, out = _check(write_jsonl(tmp_path / "small.jsonl", _labelled(10)))
    assert code == 0 and "40 examples; under 100" in out and "warning" in out  # `set -e` scripts keep going
    code, out = _check(write_jsonl(tmp_path / "small.jsonl", _labelled(10)), "--strict")
    assert code == 3 and "(--strict)" in out


def test_label_classes_under_the_minimum_warn(tmp_path):
    rows = _labelled(30) + [chat_row(f"bank fee {k}", "bank_fees") for k in range(2)]
    code, out = _check(write_jsonl(tmp_path / "rare.jsonl", rows))
    assert code == 0 and "class 'bank_fees' has only 2 example(s) (minimum 5)" in out
    assert _check(write_jsonl(tmp_path / "rare.jsonl", rows), "--strict")[0] == 3
    code, out = _check(write_jsonl(tmp_path / "rare.jsonl", rows), "--min-per-label", "2", "--strict")
    assert code == 0, out


def test_token_length_uses_the_model_tokenizer_and_template(tmp_path, tiny_model_dir):
    rows = _labelled(30)
    rows[5] = chat_row("the quick brown fox jumps over the lazy dog " * 20, "software")
    path = write_jsonl(tmp_path / "long.jsonl", rows)
    result = CliRunner().invoke(app, ["data", "check", str(path), "--base", str(tiny_model_dir),
                                      "--max-seq-len", "128"])
    assert result.exit_code == 1
    assert f"{path}:6: error [messages]:" in result.output and "over the limit of 128" in result.output
    capped = CliRunner().invoke(app, ["data", "check", str(path), "--base", str(tiny_model_dir),
                                      "--max-seq-len", "4096"])
    # The tiny model's context (512 positions) caps the limit, however large --max-seq-len is.
    assert "limit 512" in capped.output
    short = write_jsonl(tmp_path / "short.jsonl", _labelled(30))
    ok = CliRunner().invoke(app, ["data", "check", str(short), "--base", str(tiny_model_dir), "--max-seq-len", "128"])
    assert ok.exit_code == 0 and "over the limit" not in ok.output


def test_token_lengths_count_the_template_not_just_the_text(tiny_model_dir):
    from tuneforge.models.load import load_tokenizer

    tok = load_tokenizer(tiny_model_dir)
    raw = json.dumps(chat_row("abc", "software", system=None)).encode()
    report = check_loaded(parse_data(raw, "x.jsonl"), "x.jsonl", tok, 1000)
    plain = len(tok("abc", add_special_tokens=False)["input_ids"]) + len(tok("software", add_special_tokens=False)["input_ids"])
    assert report.token_counts[0] > plain  # role headers and end-of-turn tokens count too


def test_missing_model_is_a_note_not_a_crash(tmp_path):
    result = CliRunner().invoke(app, ["data", "check", str(write_jsonl(tmp_path / "ok.jsonl", _labelled(30))),
                                      "--base", str(tmp_path / "no-such-model")])
    assert result.exit_code == 0 and "token lengths not checked" in result.output


def test_json_report_and_xlsx_input(tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["text", "label"])
    for row in _labelled(30):
        ws.append([row["messages"][1]["content"], row["messages"][2]["content"]])
    wb.save(tmp_path / "lines.xlsx")
    code, out = _check(tmp_path / "lines.xlsx", "--input-column", "text", "--output-column", "label",
                       "--json-report", str(tmp_path / "r.json"))
    assert code == 0 and "format: xlsx (detected)" in out
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["examples"] == 120 and report["labels"]["software"] == 30


def test_a_template_training_cannot_use_is_a_warning_not_a_crash(tiny_model_dir):
    from tuneforge.models.load import load_tokenizer

    tok = load_tokenizer(tiny_model_dir)
    # Starts with the number of messages, so a conversation's prefix does not render as a prefix of the text.
    tok.chat_template = "{{ messages|length }}{% for m in messages %}{{ m['content'] }}{% endfor %}"
    raw = "\n".join(json.dumps(r) for r in _labelled(30)).encode()
    report = check_loaded(parse_data(raw, "x.jsonl"), "x.jsonl", tok, 1000)
    (p,) = report.problems
    assert p.severity == "warning" and p.field == "base" and "prefix-consistently" in p.message
    assert report.token_counts is None and report.exit_code == 0
    report.strict = True
    assert report.exit_code == 3
