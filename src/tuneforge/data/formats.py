"""Load a user's data file and normalise every row to a conversation.

Formats: chat `messages` JSONL (OpenAI fine-tuning format), `prompt`/`completion` JSONL and CSV with
input/output columns. A file with any invalid row is refused as a whole, with every problem listed, because a
silently dropped row is a behaviour the model never learns and the user never hears about.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

from tuneforge.data.problems import DataError, Problem

ROLES = ("system", "user", "assistant")
# Keys OpenAI's format allows on a message that we accept without using.
_OPTIONAL_MESSAGE_KEYS = {"name", "weight"}


@dataclass
class Example:
    messages: list[dict]
    line: int | None = None  # where it came from, for messages that point back at the file
    meta: dict = field(default_factory=dict)

    @property
    def answer(self) -> str:
        """The final assistant turn: the ideal output the model should learn."""
        return self.messages[-1]["content"]

    @property
    def prompt_messages(self) -> list[dict]:
        return self.messages[:-1]

    @property
    def user_text(self) -> str:
        users = [m["content"] for m in self.messages if m["role"] == "user"]
        return users[-1] if users else ""

    def to_json(self) -> dict:
        return {"messages": self.messages}


def detect_format(path: Path, first_row: dict | None) -> str:
    if path.suffix.lower() in (".csv", ".tsv"):
        return "csv"
    if isinstance(first_row, dict):
        if "messages" in first_row:
            return "chat"
        if "prompt" in first_row or "completion" in first_row:
            return "prompt_completion"
    return "chat"


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError([Problem(str(path), None, None, "file not found")]) from None
    except IsADirectoryError:
        raise DataError([Problem(str(path), None, None, "is a folder, expected a data file")]) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise DataError(
            [Problem(str(path), line, None, f"not valid UTF-8 (byte {err.start})", "save the file as UTF-8")]
        ) from None


def _check_messages(msgs, file: str, line: int) -> list[Problem]:
    probs: list[Problem] = []

    def err(fld, msg, hint=None):
        probs.append(Problem(file, line, fld, msg, hint))

    if not isinstance(msgs, list):
        err("messages", "must be a list of {role, content} objects")
        return probs
    if not msgs:
        err("messages", "is empty", "add a user turn and an assistant turn")
        return probs
    for i, m in enumerate(msgs):
        fld = f"messages[{i}]"
        if not isinstance(m, dict):
            err(fld, "must be an object with role and content")
            continue
        role = m.get("role")
        if role not in ROLES:
            err(f"{fld}.role", f"unknown role {role!r}", f"use one of {', '.join(ROLES)}")
        if "content" not in m:
            err(f"{fld}.content", "missing")
        elif not isinstance(m["content"], str):
            err(f"{fld}.content", f"must be a string, got {type(m['content']).__name__}")
        elif not m["content"].strip():
            err(f"{fld}.content", "is empty")
        unknown = set(m) - {"role", "content"} - _OPTIONAL_MESSAGE_KEYS
        if unknown:
            err(fld, f"unknown key(s) {sorted(unknown)}", "only role, content, name and weight are read")
        if "weight" in m and m["weight"] not in (0, 1):
            err(f"{fld}.weight", "must be 0 or 1")
    if probs:
        return probs
    roles = [m["role"] for m in msgs]
    if "assistant" not in roles:
        err("messages", "has no assistant turn", "add the ideal answer as a final assistant message")
    elif roles[-1] != "assistant":
        err(f"messages[{len(msgs) - 1}].role", f"last turn is {roles[-1]!r}; the answer must come last")
    if "user" not in roles:
        err("messages", "has no user turn")
    return probs


def _with_system(messages: list[dict], system_prompt: str | None) -> list[dict]:
    if system_prompt and messages[0]["role"] != "system":
        return [{"role": "system", "content": system_prompt}, *messages]
    return messages


def _clean_message(m: dict) -> dict:
    out = {"role": m["role"], "content": m["content"]}
    if "weight" in m:
        out["weight"] = int(m["weight"])
    return out


def _load_jsonl(path: Path, text: str, fmt: str, system_prompt: str | None):
    file = str(path)
    examples: list[Example] = []
    problems: list[Problem] = []
    rows: list[tuple[int, object]] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            rows.append((lineno, json.loads(raw)))
        except json.JSONDecodeError as e:
            problems.append(Problem(file, lineno, None, f"bad JSON: {e.msg} (column {e.colno})"))
    if fmt == "auto":
        first = next((r for _, r in rows if isinstance(r, dict)), None)
        fmt = detect_format(path, first)
    for lineno, row in rows:
        if not isinstance(row, dict):
            problems.append(Problem(file, lineno, None, f"expected a JSON object, got {type(row).__name__}"))
            continue
        if fmt == "chat":
            if "messages" not in row:
                problems.append(Problem(file, lineno, "messages", "missing", 'each line needs {"messages": [...]}'))
                continue
            row_probs = _check_messages(row["messages"], file, lineno)
            if row_probs:
                problems.extend(row_probs)
                continue
            msgs = [_clean_message(m) for m in row["messages"]]
        else:  # prompt_completion
            row_probs = []
            for key in ("prompt", "completion"):
                if key not in row:
                    row_probs.append(Problem(file, lineno, key, "missing"))
                elif not isinstance(row[key], str):
                    row_probs.append(Problem(file, lineno, key, f"must be a string, got {type(row[key]).__name__}"))
                elif not row[key].strip():
                    row_probs.append(Problem(file, lineno, key, "is empty"))
            if row_probs:
                problems.extend(row_probs)
                continue
            msgs = [{"role": "user", "content": row["prompt"]}, {"role": "assistant", "content": row["completion"]}]
        examples.append(Example(_with_system(msgs, system_prompt), line=lineno))
    return examples, problems, fmt


def _load_csv(path: Path, text: str, input_column: str, output_column: str, system_prompt: str | None):
    file = str(path)
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    header = reader.fieldnames or []
    missing = [c for c in (input_column, output_column) if c not in header]
    if missing:
        return [], [
            Problem(
                file, 1, c, f"column {c!r} not in header {header}",
                "name the columns with --input-column / --output-column",
            )
            for c in missing
        ]
    examples, problems = [], []
    try:
        for row in reader:
            lineno = reader.line_num
            vals = {}
            for c in (input_column, output_column):
                v = row.get(c)
                if v is None or not str(v).strip():
                    problems.append(Problem(file, lineno, c, "is empty"))
                vals[c] = v
            if any(p.line == lineno for p in problems):
                continue
            msgs = [
                {"role": "user", "content": vals[input_column]},
                {"role": "assistant", "content": vals[output_column]},
            ]
            examples.append(Example(_with_system(msgs, system_prompt), line=lineno))
    except csv.Error as e:
        problems.append(Problem(file, reader.line_num, None, f"bad CSV: {e}"))
    return examples, problems


def load_examples(
    path: str | Path,
    data_format: str = "auto",
    input_column: str = "input",
    output_column: str = "output",
    system_prompt: str | None = None,
) -> tuple[list[Example], str]:
    """Read a data file into normalised examples; raise DataError listing every problem if any row is bad."""
    path = Path(path)
    text = _read_text(path)
    if data_format == "csv" or (data_format == "auto" and path.suffix.lower() in (".csv", ".tsv")):
        examples, problems = _load_csv(path, text, input_column, output_column, system_prompt)
        fmt = "csv"
    else:
        examples, problems, fmt = _load_jsonl(path, text, data_format, system_prompt)
    if not examples and not problems:
        problems.append(Problem(str(path), None, None, "no examples in the file"))
    if any(p.severity == "error" for p in problems):
        raise DataError(problems)
    return examples, fmt


def load_from_options(path: str | Path, opts) -> list[Example]:
    """load_examples with the fields of a DataOptions config."""
    examples, _ = load_examples(
        path,
        data_format=opts.data_format,
        input_column=opts.input_column,
        output_column=opts.output_column,
        system_prompt=opts.system_prompt,
    )
    return examples


def dataset_hash(examples: list[Example]) -> str:
    import hashlib

    h = hashlib.sha256()
    for ex in examples:
        h.update(json.dumps(ex.to_json(), sort_keys=True, ensure_ascii=False).encode("utf-8"))
        h.update(b"\n")
    return "sha256:" + h.hexdigest()
