"""Every input format: read when valid, refused with file/line/field when not, and auto-detected by name."""

from __future__ import annotations

import json

import pytest

from conftest import chat_row, write_jsonl
from tuneforge.data.formats import Example, load_examples, parse_data
from tuneforge.data.problems import DataError


def _parse(rows, name="d.jsonl", **kw):
    return parse_data("\n".join(json.dumps(r) for r in rows).encode(), name, **kw)


def test_alpaca_joins_instruction_and_input():
    r = _parse([{"instruction": "Categorise", "input": "Adobe CC", "output": "software", "system": "S"},
                {"instruction": "Say hi", "input": "", "output": "hi"}])
    assert r.detected == "alpaca" and not r.problems
    assert r.examples[0].messages == [{"role": "system", "content": "S"},
                                      {"role": "user", "content": "Categorise\n\nAdobe CC"},
                                      {"role": "assistant", "content": "software"}]
    assert r.examples[1].messages[0] == {"role": "user", "content": "Say hi"}


def test_alpaca_missing_output_is_pinned_to_line_and_field():
    r = _parse([{"instruction": "a", "output": "b"}, {"instruction": "a", "input": 3, "output": ""}])
    assert {(p.line, p.field) for p in r.problems} == {(2, "input"), (2, "output")}


def test_sharegpt_maps_speakers_and_rejects_unknown_ones():
    ok = _parse([{"conversations": [{"from": "system", "value": "S"}, {"from": "human", "value": "q"},
                                    {"from": "gpt", "value": "a"}]}])
    assert ok.detected == "sharegpt"
    assert [m["role"] for m in ok.examples[0].messages] == ["system", "user", "assistant"]
    bad = _parse([{"conversations": [{"from": "human", "value": "q"}, {"from": "robot", "value": "a"}]}])
    (p,) = bad.problems
    assert (p.line, p.field) == (1, "conversations[1].from") and "robot" in p.message and p.hint


def test_sharegpt_answer_must_come_last():
    r = _parse([{"conversations": [{"from": "gpt", "value": "a"}, {"from": "human", "value": "q"}]}])
    assert r.problems[0].field == "conversations[1].from" and "must come last" in r.problems[0].message


def test_openai_preference_pairs_become_examples_with_chosen_and_rejected():
    row = {"input": {"messages": [{"role": "user", "content": "q"}]},
           "preferred_output": [{"role": "assistant", "content": "good"}],
           "non_preferred_output": [{"role": "assistant", "content": "bad"}]}
    r = _parse([row])
    assert r.detected == "preference" and not r.problems
    ex = r.examples[0]
    assert ex.is_preference and ex.answer == "good" and ex.meta == {"chosen": "good", "rejected": "bad"}
    assert ex.prompt_messages == [{"role": "user", "content": "q"}]
    assert ex.to_json() == row  # round-trips in OpenAI's format (what dataset versions store)


def test_chosen_rejected_with_string_prompt_and_implicit_prompt():
    r = _parse([{"prompt": "q", "chosen": "good", "rejected": "bad"},
                {"chosen": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "good"}],
                 "rejected": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "bad"}]}])
    assert r.detected == "chosen_rejected" and not r.problems
    assert [e.meta for e in r.examples] == [{"chosen": "good", "rejected": "bad"}] * 2
    assert r.examples[1].prompt_messages == [{"role": "user", "content": "q"}]


def test_preference_pair_problems():
    r = _parse([{"prompt": "q", "chosen": "same", "rejected": "same"},
                {"prompt": "q", "chosen": "", "rejected": "x"},
                {"prompt": "q", "chosen": [{"role": "user", "content": "x"}], "rejected": "x"}])
    assert [(p.line, p.field) for p in r.problems] == [(1, "rejected"), (2, "chosen"), (3, "chosen[0]")]


def test_weights_only_on_assistant_turns_and_something_to_learn():
    turns = [{"role": "user", "content": "q1"}, {"role": "assistant", "content": "a1", "weight": 0},
             {"role": "user", "content": "q2"}, {"role": "assistant", "content": "a2", "weight": 1}]
    ok = _parse([{"messages": turns}])
    assert not ok.problems and ok.examples[0].messages[1]["weight"] == 0
    bad = _parse([{"messages": [{"role": "user", "content": "q", "weight": 1},
                                {"role": "assistant", "content": "a"}]},
                  {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a", "weight": 0}]},
                  {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a",
                                                                   "weight": True}]}])
    assert [(p.line, p.field) for p in bad.problems] == [(1, "messages[0].weight"), (2, "messages"),
                                                         (3, "messages[1].weight")]


def test_weight_zero_turns_are_not_trained(tiny_model_dir):
    from tuneforge.models.load import load_tokenizer
    from tuneforge.chat_encoding import IGNORE_INDEX, encode_conversation

    tok = load_tokenizer(tiny_model_dir)
    msgs = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "travel", "weight": 0},
            {"role": "user", "content": "q"}, {"role": "assistant", "content": "software", "weight": 1}]
    weighted = encode_conversation(tok, msgs, 512)
    unweighted = encode_conversation(tok, [{k: v for k, v in m.items() if k != "weight"} for m in msgs], 512)
    assert 0 < weighted.n_answer_tokens < unweighted.n_answer_tokens
    assert sum(x != IGNORE_INDEX for x in weighted.labels) == weighted.n_answer_tokens


def test_json_array_file_reports_element_lines():
    text = '[\n  {"prompt": "a", "completion": "b"},\n  {"prompt": "c", "completion": ""}\n]'
    r = parse_data(text.encode(), "d.json")
    assert len(r.examples) == 1 and r.examples[0].line == 2
    assert [(p.line, p.field) for p in r.problems] == [(3, "completion")]


def test_csv_with_chosen_columns():
    csv_text = "supplier,description,account\nAdobe,CC licence,software\nKLM,,travel\n"
    r = parse_data(csv_text.encode(), "d.csv", input_column="supplier,description", output_column="account")
    assert r.detected == "csv"
    assert r.examples[0].messages[0]["content"] == "supplier: Adobe\ndescription: CC licence"
    assert [(p.line, p.field) for p in r.problems] == [(3, "description")]
    missing = parse_data(csv_text.encode(), "d.csv", input_column="text")
    assert {p.field for p in missing.problems} == {"text", "output"} and all(p.line == 1 for p in missing.problems)


def test_xlsx_with_chosen_columns_and_sheet(tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.title = "notes"
    ws = wb.create_sheet("lines")
    ws.append(["Omschrijving", "Grootboek", "Bedrag"])
    ws.append(["KPN zakelijk mobiel", "telecom", 42.0])
    ws.append(["Shell diesel", None, 80])
    ws.append([None, None, None])
    path = tmp_path / "lines.xlsx"
    wb.save(path)
    with pytest.raises(DataError) as err:
        load_examples(path, input_column="Omschrijving", output_column="Grootboek", sheet="lines")
    (p,) = err.value.problems
    assert (p.file, p.line, p.field) == (str(path), 3, "Grootboek")
    r = parse_data(path.read_bytes(), str(path), input_column="Omschrijving,Bedrag", output_column="Grootboek",
                   sheet="lines")
    assert r.detected == "xlsx" and r.examples[0].messages[0]["content"] == "Omschrijving: KPN zakelijk mobiel\nBedrag: 42"
    assert parse_data(path.read_bytes(), str(path), sheet="nope").problems[0].field == "sheet"


def test_detection_by_majority_not_first_row(tmp_path):
    rows = [{"prompt": "p", "completion": "c"}] + [chat_row(f"q{i}", "a") for i in range(3)]
    path = write_jsonl(tmp_path / "mixed.jsonl", rows)
    with pytest.raises(DataError) as err:
        load_examples(path)
    assert [(p.line, p.field) for p in err.value.problems] == [(1, "messages")]


def test_formfeed_inside_a_line_does_not_shift_line_numbers():
    raw = b'{"prompt": "a\\u000c", "completion": "b"}\n{"prompt": 1,\x0c "completion": "x"}\n{bad'
    r = parse_data(raw, "d.jsonl")
    assert [p.line for p in r.problems] == [2, 3]


def test_bad_utf8_and_missing_file(tmp_path):
    r = parse_data(b'{"prompt": "a", "completion": "b"}\n{"prompt": "\xff"}', "d.jsonl")
    assert r.problems[0].line == 2 and "UTF-8" in r.problems[0].message
    with pytest.raises(DataError, match="file not found"):
        load_examples(tmp_path / "nope.jsonl")


def test_example_to_json_is_unchanged_for_chat():
    ex = Example([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}])
    assert ex.to_json() == {"messages": ex.messages} and not ex.is_preference


def test_pair_files_may_mix_both_pair_shapes_and_other_rows_are_named():
    openai = {"input": {"messages": [{"role": "user", "content": "q"}]},
              "preferred_output": [{"role": "assistant", "content": "good"}],
              "non_preferred_output": [{"role": "assistant", "content": "bad"}]}
    r = _parse([{"prompt": "q", "chosen": "a", "rejected": "b"}, openai, {"prompt": "q", "chosen": "c", "rejected": "d"},
                {"question": "q"}])
    assert r.detected == "chosen_rejected" and len(r.examples) == 3 and r.examples[1].meta["chosen"] == "good"
    assert [(p.line, p.message) for p in r.problems] == [(4, "not a preference pair")]


def test_tsv_cells_are_split_on_tabs_only():
    r = parse_data(b"text\tlabel\nadobe, licence\tsoftware\nklm flight\ttravel\n", "d.tsv", input_column="text",
                   output_column="label")
    assert r.problems == []
    assert [(e.user_text, e.answer) for e in r.examples] == [("adobe, licence", "software"), ("klm flight", "travel")]


def test_sharegpt_top_level_system_becomes_the_system_message():
    r = _parse([{"system": "S", "conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]}])
    assert r.examples[0].messages == [{"role": "system", "content": "S"}, {"role": "user", "content": "q"},
                                      {"role": "assistant", "content": "a"}]
