"""`tuneforge predict` on a file: thousands of inputs through one loaded model, in batches, in input order.

Inputs: JSONL (a chat row with `messages`, an object with the --input-column field, or a bare JSON string per
line) or CSV (the --input-column column; a file with one column needs no name). '-' reads stdin. Each output row
is the input row with a `prediction` added, written as JSONL or CSV; '-' writes stdout, so the progress bar and
messages go to stderr. Extraction variants answer with valid JSON holding exactly the keys learned from their
training answers (run.json `data.answer_schema`), decoded under their grammar as the server does
(eval/constrained.py).
"""

from __future__ import annotations

import csv
import io
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from tuneforge.config import PredictConfig
from tuneforge.data.tables import csv_delimiter
from tuneforge.data.problems import DataError, Problem
from tuneforge.errors import UserError


@dataclass
class InputRow:
    line: int
    fields: dict  # what is written back beside the prediction
    prompt: list[dict]  # chat messages without an answer


def _format(path: str | None, forced: str) -> str:
    if forced != "auto":
        return forced
    if path and path != "-" and Path(path).suffix.lower() in (".csv", ".tsv"):
        return "csv"
    return "jsonl"


def _read_text(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    p = Path(path)
    if not p.is_file():
        raise UserError("no such input file", file=path, field="--input")
    return p.read_text(encoding="utf-8-sig")


def _prompt_of(messages: list, file: str, line: int, system: str | None) -> list[dict]:
    if not isinstance(messages, list) or not all(isinstance(m, dict) and "role" in m and "content" in m
                                                 for m in messages):
        raise DataError([Problem(file, line, "messages", "must be a list of {role, content} objects")])
    msgs = list(messages)
    while msgs and msgs[-1]["role"] == "assistant":  # an answer in the input is not shown to the model
        msgs.pop()
    if not msgs:
        raise DataError([Problem(file, line, "messages", "has no user turn to answer")])
    if system and msgs[0]["role"] != "system":
        msgs = [{"role": "system", "content": system}] + msgs
    return msgs


def _user_prompt(text: str, system: str | None) -> list[dict]:
    return ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": text}]


def read_inputs(path: str, fmt: str, column: str, system: str | None) -> list[InputRow]:
    """Every input row; every bad line is reported at once, with its file, line and field."""
    file = "<stdin>" if path == "-" else path
    text = _read_text(path)
    rows: list[InputRow] = []
    problems: list[Problem] = []
    if fmt == "csv":
        reader = csv.DictReader(io.StringIO(text), delimiter=csv_delimiter(path))
        header = reader.fieldnames or []
        use = column if column in header else (header[0] if len(header) == 1 else None)
        if use is None:
            raise DataError([Problem(file, 1, column, f"no column {column!r} (columns: {', '.join(header)})",
                                     "name the input column with --input-column")])
        for record in reader:
            line = reader.line_num
            value = (record.get(use) or "").strip()
            if not value:
                problems.append(Problem(file, line, use, "is empty"))
                continue
            rows.append(InputRow(line, dict(record), _user_prompt(value, system)))
    else:
        for line, raw in enumerate(text.splitlines(), 1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except json.JSONDecodeError as err:
                problems.append(Problem(file, line, None, f"not valid JSON: {err.msg}"))
                continue
            try:
                if isinstance(obj, str):
                    rows.append(InputRow(line, {column: obj}, _user_prompt(obj, system)))
                elif isinstance(obj, dict) and "messages" in obj:
                    rows.append(InputRow(line, obj, _prompt_of(obj["messages"], file, line, system)))
                elif isinstance(obj, dict) and isinstance(obj.get(column), str) and obj[column].strip():
                    rows.append(InputRow(line, obj, _user_prompt(obj[column], system)))
                else:
                    problems.append(Problem(file, line, column, f"needs a non-empty text field {column!r}, or "
                                            "'messages'", "name the input field with --input-column"))
            except DataError as err:
                problems += err.problems
    if problems:
        raise DataError(problems)
    if not rows:
        raise DataError([Problem(file, None, None, "holds no inputs")])
    return rows


class OutputWriter:
    """Writes rows as they come (JSONL or CSV) to a file or stdout; a file is written beside and renamed at the
    end, so an interrupted run never leaves a half-written output where the complete one should be."""

    def __init__(self, path: str | None, fmt: str, delimiter: str = ","):
        self.path, self.fmt, self.delimiter = path, fmt, delimiter
        self.tmp = None if path in (None, "-") else Path(path).with_name(Path(path).name + ".partial")
        if self.tmp:
            self.tmp.parent.mkdir(parents=True, exist_ok=True)
        self.stream = self.tmp.open("w", encoding="utf-8", newline="") if self.tmp else sys.stdout
        self.csv = None

    def write(self, fields: dict, prediction: str) -> None:
        row = {**fields, "prediction": prediction}
        if self.fmt == "csv":
            if self.csv is None:
                self.csv = csv.DictWriter(self.stream, fieldnames=list(row), extrasaction="ignore",
                                          delimiter=self.delimiter)
                self.csv.writeheader()
            self.csv.writerow(row)
        else:
            self.stream.write(json.dumps(row, ensure_ascii=False) + "\n")

    def close(self, complete: bool) -> None:
        self.stream.flush()
        if self.tmp:
            self.stream.close()
            if complete:
                self.tmp.replace(self.path)
            else:
                print(f"stopped early: the rows answered so far are in {self.tmp}", file=sys.stderr)


def answer(loaded, prompts: list[list[dict]], cfg: PredictConfig, schema: dict | None) -> list[str]:
    """One answer per prompt: JSON under the learned keys' grammar for an extraction variant, else greedy
    generation."""
    from tuneforge.eval.constrained import json_answers
    from tuneforge.eval.generate import generate_batch
    from tuneforge.models.classifier import Classifier, classifier_input

    if isinstance(loaded, Classifier):  # a classification variant: the argmax label, never anything else
        return [label for label, _ in loaded.predict([classifier_input(p) for p in prompts], cfg.batch_size)]
    if schema:
        gens = json_answers(loaded.model, loaded.tokenizer, prompts, schema, cfg.batch_size)
    else:
        gens = generate_batch(loaded.model, loaded.tokenizer, prompts, cfg.max_new_tokens, cfg.batch_size)
    return [g.text for g in gens]


def predict_file(loaded, cfg: PredictConfig, schema: dict | None, log) -> int:
    """Answer every input of cfg.input into cfg.output; returns the number of rows written."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    system = cfg.system_prompt if cfg.system_prompt is not None else loaded.default_system_prompt
    in_fmt = _format(cfg.input, cfg.format)
    rows = read_inputs(cfg.input, in_fmt, cfg.input_column, system)
    # A file is written in its own extension's format; stdout in the input's (CSV or TSV in, the same out).
    to_file = cfg.output not in (None, "-")
    writer = OutputWriter(cfg.output, _format(cfg.output, cfg.format) if to_file else in_fmt,
                          csv_delimiter(cfg.output if to_file else cfg.input))
    # Chunks of several batches: generation sorts each chunk by length, the output keeps the input order.
    chunk = cfg.batch_size * 4
    columns = [TextColumn("predicting"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()]
    complete = False
    try:
        with Progress(*columns, console=Console(stderr=True), disable=not cfg.progress) as bar:
            task = bar.add_task("predict", total=len(rows))
            for s in range(0, len(rows), chunk):
                part = rows[s : s + chunk]
                for row, text in zip(part, answer(loaded, [r.prompt for r in part], cfg, schema)):
                    writer.write(row.fields, text)
                bar.advance(task, len(part))
        complete = True
    finally:
        writer.close(complete)
    plural = "" if len(rows) == 1 else "s"
    log(f"wrote {len(rows)} prediction{plural} to {cfg.output if to_file else 'standard output'}")
    return len(rows)
