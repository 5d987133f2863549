"""Issue 12 defect 5 (data side) and 6: bad input gets a clear error naming file, line and field, never a
traceback or exit 0; length is checked in characters before tokenizing; `data check` streams."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from conftest import chat_row, write_jsonl
from tuneforge.cli.main import app

runner = CliRunner()
LABELS = ["software", "travel", "hardware"]


def _rows(n=30):
    return [chat_row(f"invoice line {k}", LABELS[k % 3]) for k in range(n)]


def _run(*args):
    result = runner.invoke(app, list(map(str, args)))
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.output


def test_a_lone_surrogate_is_reported_at_its_line_and_field(tmp_path, tiny_model_dir):
    path = write_jsonl(tmp_path / "s.jsonl", _rows())
    lines = path.read_text().splitlines()
    lines[6] = '{"messages": [{"role": "user", "content": "bad \\ud800 text"}, {"role": "assistant", "content": "x"}]}'
    path.write_text("\n".join(lines) + "\n")
    code, out = _run("data", "check", path, "--base", tiny_model_dir)  # once crashed inside the tokenizer
    assert code == 1
    assert f"{path}:7: error [messages[0].content]: contains a lone surrogate" in out


def test_a_5000_digit_integer_is_reported_at_its_line(tmp_path):
    path = write_jsonl(tmp_path / "n.jsonl", _rows())
    with path.open("a") as f:
        f.write('{"messages": [{"role": "user", "content": ' + "7" * 5000 + "}]}\n")
    code, out = _run("data", "check", path, "--base", "none")
    assert code == 1 and f"{path}:31: error: bad JSON: a number with more than 4300 digits" in out


@pytest.mark.parametrize("command", ["clean", "report"])
@pytest.mark.parametrize("kind,content,message", [
    ("missing", None, "file not found"),
    ("binary", bytes(range(256)) * 64, "not valid UTF-8"),
    ("utf16", json.dumps(chat_row("q", "a")).encode("utf-16"), "is UTF-16 text, not UTF-8"),
])
def test_clean_and_report_refuse_a_file_they_cannot_read(tmp_path, command, kind, content, message):
    path = tmp_path / f"{kind}.jsonl"
    if content is not None:
        path.write_bytes(content)
    code, out = _run("data", command, path, "--base", "none") if command == "report" else _run("data", command, path)
    assert code == 1, out  # once exit 0 with "kept 0 of 0 rows"
    assert str(path) in out and message in out
    assert not path.with_suffix(".clean.jsonl").exists()


def test_duplicate_csv_columns_are_an_error_naming_the_column(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("input,output,output\n" + "".join(f"line {k},software,travel\n" for k in range(12)))
    code, out = _run("data", "check", path, "--base", "none")
    assert code == 1
    assert f"{path}:1: error [output]: column 'output' appears 2 times in the header (columns 2, 3)" in out


def test_duplicate_xlsx_columns_are_an_error_naming_the_column(tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.append(["input", "input", "output"])
    for k in range(12):
        wb.active.append([f"a {k}", f"b {k}", "software"])
    path = tmp_path / "d.xlsx"
    wb.save(path)
    code, out = _run("data", "check", path, "--base", "none")
    assert code == 1 and "column 'input' appears 2 times in the header (columns 1, 2)" in out


def test_an_overlong_line_is_rejected_without_tokenizing_it(tmp_path, tiny_model_dir, monkeypatch):
    from tuneforge import chat_encoding as encode

    real, seen = encode.encode_conversation, []

    def watched(tokenizer, messages, *args, **kwargs):
        seen.append(sum(len(m["content"]) for m in messages))
        return real(tokenizer, messages, *args, **kwargs)

    monkeypatch.setattr(encode, "encode_conversation", watched)
    rows = _rows()
    rows[4] = chat_row("x" * 5_000_000, "software")  # 5 MB in one line
    path = write_jsonl(tmp_path / "long.jsonl", rows)
    code, out = _run("data", "check", path, "--base", tiny_model_dir, "--max-seq-len", "128")
    assert code == 1
    assert f"{path}:5: error [messages]: at least" in out and "without tokenizing" in out
    assert seen and max(seen) < 1000  # every other row was tokenized; the long one never was


def test_data_check_streams_in_bounded_memory(tmp_path):
    import tracemalloc

    from tuneforge.config import DataCheckConfig
    from tuneforge.data.check_stream import check_file

    path = tmp_path / "big.jsonl"
    row = json.dumps(chat_row("a fairly ordinary invoice line about software licences " * 4, "software"))
    with path.open("w") as f:
        for k in range(20_000):
            f.write(row.replace("software\"}", f"{LABELS[k % 3]}\"}}") + "\n")
    size = path.stat().st_size
    tracemalloc.start()
    report = check_file(path, DataCheckConfig(data=str(path)))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert report.example_count == 20_000 and report.labels == {"software": 6667, "travel": 6667, "hardware": 6666}
    # What stays is a read buffer, the rows held to detect the format and one batch: a few MB, not the file.
    assert peak < 4_000_000 < size, f"peak {peak:,} bytes for a {size:,}-byte file"
