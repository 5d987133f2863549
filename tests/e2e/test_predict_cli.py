"""`tuneforge predict` as users run it on tiny models: one input, a JSONL file, a CSV file, stdin to stdout,
registry references, line-precise errors, and extraction variants that always answer valid JSON."""

from __future__ import annotations

import csv
import json

from typer.testing import CliRunner

from conftest import chat_row, write_jsonl
from tuneforge.cli.main import app

LINES = [f"invoice line {i} for {w}" for i, w in enumerate(["paper", "train", "laptop", "hotel", "toner"] * 8)]


def _predict(*args, stdin: str | None = None):
    r = CliRunner().invoke(app, ["predict", "--max-new-tokens", "4", "--no-progress", *args], input=stdin)
    assert r.exit_code == 0, r.output
    return r


def _single(model: str, text: str) -> str:
    return _predict("--model", model, text).stdout.rstrip("\n")


def test_jsonl_file_in_order_with_every_field(tiny_variants, tmp_path):
    model = str(tiny_variants["alpha"])
    src = write_jsonl(tmp_path / "in.jsonl", [{"id": i, "input": t} for i, t in enumerate(LINES)]
                      + [chat_row("a chat row", "an answer the model must not see")])
    out = tmp_path / "out" / "pred.jsonl"
    _predict("--model", model, "--input", str(src), "--output", str(out), "--batch-size", "8")
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r.get("id") for r in rows] == list(range(len(LINES))) + [None]  # input order, 41 rows
    assert rows[0]["input"] == LINES[0] and rows[-1]["messages"][-1]["content"].startswith("an answer")
    # Batched answers are the answers one input at a time gives (greedy, left-padded batches).
    for i in (0, 7, 23):
        assert rows[i]["prediction"] == _single(model, LINES[i])
    assert not list(out.parent.glob("*.partial"))


def test_csv_file_and_stdin_to_stdout(tiny_variants, tmp_path):
    model = str(tiny_variants["alpha"])
    src = tmp_path / "in.csv"
    src.write_text("ref,text\n" + "".join(f"{i},{t}\n" for i, t in enumerate(LINES[:6])), encoding="utf-8")
    out = tmp_path / "pred.csv"
    r = _predict("--model", model, "--input", str(src), "--output", str(out), "--input-column", "text")
    assert f"wrote 6 predictions to {out}" in r.stderr
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [r["ref"] for r in rows] == [str(i) for i in range(6)] and list(rows[0]) == ["ref", "text", "prediction"]
    assert rows[2]["prediction"] == _single(model, LINES[2]).strip()
    stdin = "".join(json.dumps(t) + "\n" for t in LINES[:3])  # bare JSON strings, one per line
    r = _predict("--model", model, "--input", "-", "--output", "-", stdin=stdin)
    got = [json.loads(line) for line in r.stdout.splitlines()]
    assert [g["input"] for g in got] == LINES[:3] and got[1]["prediction"] == rows[1]["prediction"]
    assert "wrote 3 predictions to standard output" in r.stderr  # the rows on stdout, the note beside them
    one = _predict("--model", model, "--input", "-", "--output", "-", stdin=stdin.splitlines()[0] + "\n")
    assert "wrote 1 prediction to standard output" in one.stderr


def test_tsv_in_tsv_out_to_a_file_and_to_stdout(tiny_variants, tmp_path):
    model = str(tiny_variants["alpha"])
    src = tmp_path / "in.tsv"
    src.write_text("ref\ttext\n" + "".join(f"{i}\t{t}, net\n" for i, t in enumerate(LINES[:3])), encoding="utf-8")
    out = tmp_path / "pred.tsv"
    _predict("--model", model, "--input", str(src), "--output", str(out), "--input-column", "text")
    for text in (out.read_text(encoding="utf-8"), _predict("--model", model, "--input", str(src),
                                                           "--input-column", "text").stdout):
        rows = list(csv.DictReader(text.splitlines(), delimiter="\t"))
        assert list(rows[0]) == ["ref", "text", "prediction"] and rows[1]["text"] == f"{LINES[1]}, net"


def test_an_answer_in_a_chat_input_row_is_not_shown_to_the_model(tmp_path):
    from tuneforge.eval.batch_predict import read_inputs

    src = write_jsonl(tmp_path / "in.jsonl", [chat_row("a chat row", "the answer to hide", system=None)])
    (row,) = read_inputs(str(src), "jsonl", "input", "Be brief.")
    assert row.prompt == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "a chat row"}]
    assert row.fields["messages"][-1]["content"] == "the answer to hide"  # written back as it came


def test_registry_references_resolve_to_the_run(tiny_variants):
    from tuneforge.registry.store import Registry

    Registry().register(tiny_variants["alpha"], "tiny-coder")
    Registry().register(tiny_variants["beta"], "tiny-coder")
    alpha, beta = _single(str(tiny_variants["alpha"]), LINES[1]), _single(str(tiny_variants["beta"]), LINES[1])
    assert alpha != beta
    assert _single("tiny-coder:1", LINES[1]) == alpha
    assert _single("tiny-coder@candidate", LINES[1]) == beta  # the newest version in that stage


def test_bad_lines_are_named(tiny_variants, tmp_path):
    src = tmp_path / "bad.jsonl"
    src.write_text('{"input": "fine"}\n{"text": "no input field"}\nnot json\n', encoding="utf-8")
    r = CliRunner().invoke(app, ["predict", "--model", str(tiny_variants["alpha"]), "--input", str(src)])
    assert r.exit_code == 1
    assert "bad.jsonl:2" in r.output and "input" in r.output and "bad.jsonl:3" in r.output
    r = CliRunner().invoke(app, ["predict", "--model", str(tiny_variants["alpha"])])
    assert r.exit_code == 1 and "--input" in r.output


def test_extraction_variant_answers_valid_json_by_default(extraction_run, tmp_path):
    run = json.loads((extraction_run / "run.json").read_text())
    schema = run["data"]["answer_schema"]
    assert schema == {"type": "json_object", "keys": ["supplier", "total", "currency"],
                      "key_types": {"supplier": "string", "total": "number", "currency": "string"}}
    src = write_jsonl(tmp_path / "in.jsonl", [{"input": f"Invoice {i} from Acme Ltd"} for i in range(5)])
    out = tmp_path / "out.jsonl"
    _predict("--model", str(extraction_run), "--input", str(src), "--output", str(out))
    for row in (json.loads(line) for line in out.read_text().splitlines()):
        obj = json.loads(row["prediction"])  # a random tiny model, still valid JSON with exactly the keys
        assert list(obj) == schema["keys"] and (obj["total"] is None or isinstance(obj["total"], (int, float)))
    one = json.loads(_single(str(extraction_run), "Invoice 9 from Acme Ltd"))
    assert list(one) == schema["keys"]
    # --no-constrained gives the model's free text back (a random model writes no JSON object).
    free = _predict("--model", str(extraction_run), "--no-constrained", "Invoice 9").stdout
    assert free.strip() != json.dumps(one)
