"""Loading the foundation formats; every bad row is reported with file, line and field, and the file refused."""

from __future__ import annotations

import json

import pytest

from tuneforge.data.formats import dataset_hash, load_examples
from tuneforge.data.problems import DataError

from conftest import chat_row, write_jsonl


def test_chat_jsonl_loads(label_data):
    examples, fmt = load_examples(label_data)
    assert fmt == "chat" and len(examples) == 15
    assert examples[0].messages[0]["role"] == "system"
    assert examples[0].answer == "software" and examples[0].line == 1


def test_prompt_completion_gets_system_prompt(tmp_path):
    p = write_jsonl(tmp_path / "pc.jsonl", [{"prompt": "dell laptop", "completion": "hardware"}] * 2)
    examples, fmt = load_examples(p, system_prompt="Categorise.")
    assert fmt == "prompt_completion"
    assert [m["role"] for m in examples[0].messages] == ["system", "user", "assistant"]


def test_csv_with_named_columns(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text("line,category\nadobe licence,software\n\"train, berlin\",travel\n", encoding="utf-8")
    examples, fmt = load_examples(p, input_column="line", output_column="category")
    assert fmt == "csv" and [e.answer for e in examples] == ["software", "travel"]
    assert examples[1].user_text == "train, berlin" and examples[1].line == 3


def test_csv_missing_column_named(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text("text,label\na,b\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        load_examples(p)
    assert any(pr.field == "input" and "not in header" in pr.message for pr in err.value.problems)


@pytest.mark.parametrize(
    "line, field, fragment",
    [
        ("{not json", None, "bad JSON"),
        (json.dumps({"messages": [{"role": "user", "content": "hi"}]}), "messages", "no assistant turn"),
        (json.dumps(chat_row("hi", "")), "messages[2].content", "is empty"),
        (json.dumps({"messages": [{"role": "robot", "content": "x"}, {"role": "assistant", "content": "y"}]}),
         "messages[0].role", "unknown role"),
        (json.dumps({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
                                  {"role": "user", "content": "c"}]}), "messages[2].role", "answer must come last"),
        (json.dumps({"messages": [{"role": "user", "content": 3}, {"role": "assistant", "content": "b"}]}),
         "messages[0].content", "must be a string"),
        (json.dumps([1, 2]), None, "expected a JSON object"),
    ],
)
def test_bad_row_refuses_file_and_names_line(tmp_path, line, field, fragment):
    good = json.dumps(chat_row("dell laptop", "hardware"))
    p = tmp_path / "bad.jsonl"
    p.write_text(f"{good}\n{good}\n{line}\n{good}\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        load_examples(p)
    problems = err.value.problems
    assert any(pr.line == 3 and pr.field == field and fragment in pr.message for pr in problems), problems
    assert f"{p}:3" in str(err.value)


def test_not_utf8_names_line(tmp_path):
    p = tmp_path / "latin1.jsonl"
    p.write_bytes(json.dumps(chat_row("a", "b")).encode() + b"\n" + '{"x": "caf\xe9"}'.encode("latin-1"))
    with pytest.raises(DataError) as err:
        load_examples(p)
    assert err.value.problems[0].line == 2 and "UTF-8" in err.value.problems[0].message


def test_empty_and_missing_files(tmp_path):
    (tmp_path / "empty.jsonl").write_text("\n\n")
    with pytest.raises(DataError, match="no examples"):
        load_examples(tmp_path / "empty.jsonl")
    with pytest.raises(DataError, match="file not found"):
        load_examples(tmp_path / "nope.jsonl")


def test_hash_is_stable_and_content_sensitive(label_data, tmp_path):
    a, _ = load_examples(label_data)
    b, _ = load_examples(label_data)
    assert dataset_hash(a) == dataset_hash(b)
    c = write_jsonl(tmp_path / "c.jsonl", [chat_row("x", "software")] + [e.to_json() for e in a[1:]])
    assert dataset_hash(load_examples(c)[0]) != dataset_hash(a)
