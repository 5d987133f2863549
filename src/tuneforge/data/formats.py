"""Load a user's data file and normalise every row to a conversation.

Formats (auto-detected from the extension and the rows' keys; `detected` says which was used):
chat `messages` JSONL (OpenAI fine-tuning format, multi-turn, per-message `weight` 0/1), `prompt`/`completion`,
Alpaca, ShareGPT, preference pairs (OpenAI DPO `input`/`preferred_output`/`non_preferred_output`, and
`prompt`/`chosen`/`rejected`), CSV/TSV and Excel .xlsx with chosen columns. JSONL files may also be one JSON
array (`[{...}, {...}]`, as Alpaca data often ships). Row converters live in rows.py, spreadsheets in tables.py.

A file with any invalid row is refused as a whole by `load_examples`, with every problem listed, because a
silently dropped row is a behaviour the model never learns and the user never hears about. `parse_data` is the
same reader on bytes in memory; it never raises, it returns the problems (the fuzz tests drive it).

Preference pairs are Examples too, shaped for SFT and DPO alike: `messages` is the prompt followed by the
preferred answer as the last assistant turn (so `prompt_messages` is the prompt and `answer` the preferred
answer), and `meta == {"chosen": <preferred answer text>, "rejected": <dispreferred answer text>}`.
`Example.is_preference` tells them apart; `to_json` writes them back in OpenAI's preference format.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tuneforge.data.messages import ROLES, with_system  # noqa: F401  (ROLES: re-exported for callers)
from tuneforge.data.jsonl import UTF16_BOMS, file_lines, iter_json_lines, surrogate_problem
from tuneforge.data.problems import DataError, Problem
from tuneforge.data.rows import CONVERTERS, FORMATS, detect_row_format
from tuneforge.data.tables import csv_delimiter, load_csv, load_xlsx

ALL_FORMATS = ("auto", *FORMATS, "csv", "xlsx")
PAIR_FORMATS = ("preference", "chosen_rejected")


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

    @property
    def is_preference(self) -> bool:
        return "rejected" in self.meta

    @property
    def rejected_messages(self) -> list[dict]:
        """A preference pair's second conversation: the same prompt, ending in the dispreferred answer. DPO trains
        on it, and validation and the estimate measure it, so it is built here only."""
        return [*self.prompt_messages, {"role": "assistant", "content": self.meta["rejected"]}]

    def to_json(self) -> dict:
        if self.is_preference:
            return {
                "input": {"messages": self.prompt_messages},
                "preferred_output": [{"role": "assistant", "content": self.meta["chosen"]}],
                "non_preferred_output": self.rejected_messages[-1:],
            }
        return {"messages": self.messages}

    def jsonl_line(self) -> str:
        """The row as one line of a training-format JSONL file (what versions, exports and splits write)."""
        return json.dumps(self.to_json(), ensure_ascii=False) + "\n"


@dataclass
class LoadResult:
    examples: list[Example]
    problems: list[Problem]
    detected: str  # the format that was read


def _table_kind(name: str) -> str | None:
    suffix = Path(name).suffix.lower()
    if suffix in (".csv", ".tsv"):
        return "csv"
    if suffix in (".xlsx", ".xlsm"):
        return "xlsx"
    return None


def detect_format(path: Path, first_row: dict | None) -> str:
    return _table_kind(str(path)) or detect_row_format(first_row) or "chat"


def _decode(raw: bytes, file: str) -> tuple[str | None, list[Problem]]:
    if raw.startswith(UTF16_BOMS):
        return None, [Problem(file, None, None, "is UTF-16 text, not UTF-8", "save the file as UTF-8")]
    try:
        return raw.decode("utf-8-sig"), []
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        return None, [Problem(file, line, None, f"not valid UTF-8 (byte {err.start})", "save the file as UTF-8")]


def _read_problem(path: Path) -> Problem | None:
    """Why a path cannot be read as a data file, or None."""
    if not path.exists():
        return Problem(str(path), None, None, "file not found")
    if path.is_dir():
        return Problem(str(path), None, None, "is a folder, expected a data file")
    return None


def _read_bytes(path: Path) -> tuple[bytes | None, list[Problem]]:
    problem = _read_problem(path)
    if problem:
        return None, [problem]
    try:
        return path.read_bytes(), []
    except OSError as e:
        return None, [Problem(str(path), None, None, f"cannot read: {e.strerror}")]


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _json_array_rows(text: str, file: str) -> tuple[list[tuple[int, object]], list[Problem]] | None:
    """(line, value) for each element when the file is one JSON array; None when it is JSON Lines."""
    if not text.lstrip().startswith("["):
        return None
    decoder = json.JSONDecoder()
    try:
        whole = json.loads(text)
    except json.JSONDecodeError as e:
        if e.msg == "Extra data":
            return None  # a complete value, then more: JSON Lines whose first row is an array; read it as such
        return [], [Problem(file, e.lineno, None, f"bad JSON: {e.msg} (column {e.colno})")]
    except RecursionError:
        return [], [Problem(file, 1, None, "bad JSON: nested too deeply")]
    except ValueError as e:  # an integer over Python's digit limit
        return [], [Problem(file, 1, None, f"bad JSON: {e}".split(";")[0])]
    if not isinstance(whole, list):
        return None
    rows, problems = [], []
    # Walk the array again to find where each element starts, for line numbers.
    pos = text.index("[") + 1
    for _ in whole:
        while text[pos] in " \t\r\n,":
            pos += 1
        value, end = decoder.raw_decode(text, pos)
        line = _line_of(text, pos)
        bad = surrogate_problem(value, text[pos:end], file, line)
        if bad:
            problems.append(bad)
        else:
            rows.append((line, value))
        pos = end
    return rows, problems


def _json_rows(text: str, file: str) -> tuple[list[tuple[int, object]], list[Problem]]:
    """(line, value) for each row: JSON Lines, or one JSON array whose elements are the rows."""
    array = _json_array_rows(text, file)
    if array is not None:
        return array
    rows, problems = [], []
    # split("\n"), not splitlines(): that also breaks at form feeds and other separators, and the line
    # numbers would no longer be the ones an editor shows.
    for lineno, value, probs in iter_json_lines((line.encode("utf-8", "surrogatepass") for line in text.split("\n")),
                                                file):
        problems.extend(probs)
        if not probs:
            rows.append((lineno, value))
    return rows, problems


def _majority_format(rows: list[tuple[int, object]]) -> str:
    # By majority, so one odd first line does not decide how the whole file is read.
    votes = Counter(f for f in (detect_row_format(r) for _, r in rows[:200]) if f)
    return votes.most_common(1)[0][0] if votes else "chat"


def _row_example(row, lineno: int, fmt: str, file: str, system_prompt: str | None,
                 ) -> tuple[Example | None, list[Problem]]:
    """One parsed row in format `fmt` -> its Example, or the problems that stop it."""
    if not isinstance(row, dict):
        return None, [Problem(file, lineno, None, f"expected a JSON object, got {type(row).__name__}")]
    row_fmt = fmt
    if fmt in PAIR_FORMATS:
        # Pair files often mix OpenAI's and the prompt/chosen/rejected shape; each row is read as what it is.
        row_fmt = detect_row_format(row)
        if row_fmt not in PAIR_FORMATS:
            return None, [Problem(file, lineno, None, "not a preference pair",
                                  "use {prompt, chosen, rejected} or OpenAI's {input, preferred_output, "
                                  "non_preferred_output}")]
    msgs, meta, row_probs = CONVERTERS[row_fmt](row, file, lineno)
    if row_probs:
        return None, row_probs
    return Example(with_system(msgs, system_prompt), line=lineno, meta=meta), []


DETECT_ROWS = 200  # rows read before the format of an `auto` file is decided


def stream_json_examples(lines: Iterable[bytes], file: str, fmt: str = "auto", system_prompt: str | None = None,
                         ) -> tuple[str, Iterator[tuple[Example | None, list[Problem]]]]:
    """(format, (example or None, problems) per row) for JSON Lines, holding at most DETECT_ROWS rows at once."""
    rows = iter_json_lines(lines, file)
    head = list(itertools.islice(rows, DETECT_ROWS)) if fmt == "auto" else []
    if fmt == "auto":
        fmt = _majority_format([(n, v) for n, v, p in head if not p])

    def examples():
        for lineno, value, problems in itertools.chain(head, rows):
            if problems:
                yield None, problems
            else:
                yield _row_example(value, lineno, fmt, file, system_prompt)

    return fmt, examples()


def _collect(file: str, detected: str, items) -> LoadResult:
    examples, problems = [], []
    for ex, probs in items:
        problems.extend(probs)
        if ex is not None:
            examples.append(ex)
    return LoadResult(examples, problems, detected)


def _load_json(text: str, file: str, fmt: str, system_prompt: str | None) -> LoadResult:
    rows, problems = _json_rows(text, file)
    if fmt == "auto":
        fmt = _majority_format(rows)
    result = _collect(file, fmt, (_row_example(row, n, fmt, file, system_prompt) for n, row in rows))
    result.problems = problems + result.problems
    return result


def _finish(result: LoadResult, file: str) -> LoadResult:
    if not result.examples and not result.problems:
        result.problems.append(Problem(file, None, None, "no examples in the file"))
    result.problems.sort(key=lambda p: p.line or 0)
    return result


def parse_data(
    raw: bytes,
    name: str,
    data_format: str = "auto",
    input_column: str = "input",
    output_column: str = "output",
    system_prompt: str | None = None,
    sheet: str | None = None,
) -> LoadResult:
    """Read a data file's bytes (`name` gives the extension and the file named in problems). Never raises."""
    file = str(name)
    if data_format not in ALL_FORMATS:
        return LoadResult([], [Problem(file, None, "data_format", f"unknown format {data_format!r}",
                                       f"use one of {', '.join(ALL_FORMATS)}")], data_format)
    kind = data_format if data_format in ("csv", "xlsx") else None
    if data_format == "auto":
        kind = _table_kind(file)

    def make_example(msgs, line):
        return Example(msgs, line=line)

    if kind == "xlsx":
        examples, problems = load_xlsx(file, raw, sheet, input_column, output_column, system_prompt, make_example)
        return _finish(LoadResult(examples, problems, "xlsx"), file)
    if kind is None and not raw.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"["):
        # JSON Lines: decoded line by line, so one bad line does not hide the others.
        detected, items = stream_json_examples(raw.split(b"\n"), file, data_format, system_prompt)
        return _finish(_collect(file, detected, items), file)
    text, problems = _decode(raw, file)
    if text is None:
        return LoadResult([], problems, data_format)
    if kind == "csv":
        examples, problems = load_csv(file, text, csv_delimiter(file), input_column, output_column, system_prompt,
                                      make_example)
        return _finish(LoadResult(examples, problems, "csv"), file)
    return _finish(_load_json(text, file, data_format, system_prompt), file)


def _streamable(path: Path, data_format: str) -> bool:
    """JSON Lines (not a spreadsheet, not one JSON array): readable one line at a time."""
    if data_format in ("csv", "xlsx") or (data_format == "auto" and _table_kind(str(path))):
        return False
    with open(path, "rb") as f:
        head = f.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    return not head.startswith(b"[")


def iter_file_examples(path: str | Path, data_format: str = "auto", input_column: str = "input",
                       output_column: str = "output", system_prompt: str | None = None, sheet: str | None = None,
                       ) -> tuple[str, Iterator[tuple[Example | None, list[Problem]]]]:
    """(format, (example or None, problems) per row): JSON Lines streamed from disk in bounded memory; other
    formats (spreadsheets, one JSON array) are read whole and then handed out row by row."""
    path = Path(path)
    problem = _read_problem(path) or (Problem(str(path), None, "data_format", f"unknown format {data_format!r}",
                                              f"use one of {', '.join(ALL_FORMATS)}")
                                      if data_format not in ALL_FORMATS else None)
    if problem:
        return data_format, iter([(None, [problem])])
    try:
        streamable = _streamable(path, data_format)
    except OSError as e:
        return data_format, iter([(None, [Problem(str(path), None, None, f"cannot read: {e.strerror}")])])
    if streamable:
        return stream_json_examples(file_lines(path), str(path), data_format, system_prompt)
    result = inspect_file(path, data_format, input_column, output_column, system_prompt, sheet)
    items = [(ex, []) for ex in result.examples] + [(None, [p]) for p in result.problems]
    return result.detected, iter(items)


def inspect_file(path: str | Path, data_format: str = "auto", input_column: str = "input",
                 output_column: str = "output", system_prompt: str | None = None,
                 sheet: str | None = None) -> LoadResult:
    """Like load_examples, but returns the valid rows and every problem instead of refusing the file."""
    path = Path(path)
    if data_format in ALL_FORMATS and _read_problem(path) is None:
        try:
            if _streamable(path, data_format):  # never the whole file in memory as bytes and as text
                detected, items = stream_json_examples(file_lines(path), str(path), data_format, system_prompt)
                return _finish(_collect(str(path), detected, items), str(path))
        except OSError:
            pass  # reported by _read_bytes below
    raw, problems = _read_bytes(path)
    if raw is None:
        return LoadResult([], problems, data_format)
    return parse_data(raw, str(path), data_format, input_column, output_column, system_prompt, sheet)


def load_examples(
    path: str | Path,
    data_format: str = "auto",
    input_column: str = "input",
    output_column: str = "output",
    system_prompt: str | None = None,
    sheet: str | None = None,
) -> tuple[list[Example], str]:
    """Read a data file into normalised examples; raise DataError listing every problem if any row is bad."""
    result = inspect_file(path, data_format, input_column, output_column, system_prompt, sheet)
    if any(p.severity == "error" for p in result.problems):
        raise DataError(result.problems)
    return result.examples, result.detected


def options_kwargs(opts) -> dict:
    """The reader arguments held by a DataOptions config."""
    return dict(data_format=opts.data_format, input_column=opts.input_column, output_column=opts.output_column,
                system_prompt=opts.system_prompt, sheet=getattr(opts, "sheet", None))


def load_from_options(path: str | Path, opts) -> list[Example]:
    """load_examples with the fields of a DataOptions config."""
    examples, _ = load_examples(path, **options_kwargs(opts))
    return examples


def load_preference_pairs(path: str | Path, opts) -> list[Example]:
    """DPO data, read by the same reader as every other file (so `data check` and `train --objective dpo` accept
    the same files, with the same line numbers); a row that is not a preference pair is refused on its line."""
    result = inspect_file(path, **options_kwargs(opts))
    problems = list(result.problems) + [
        Problem(str(path), ex.line, None, "not a preference pair",
                "use {prompt, chosen, rejected} or OpenAI's {input, preferred_output, non_preferred_output}")
        for ex in result.examples if not ex.is_preference
    ]
    if any(p.severity == "error" for p in problems):
        raise DataError(sorted(problems, key=lambda p: p.line or 0))
    return result.examples


class DatasetHasher:
    """dataset_hash one example at a time, for a writer that hashes while it writes (one pass over the rows)."""

    def __init__(self):
        import hashlib

        self._h = hashlib.sha256()

    def add(self, ex: Example) -> None:
        self._h.update(json.dumps(ex.to_json(), sort_keys=True, ensure_ascii=False).encode("utf-8"))
        self._h.update(b"\n")

    def hexdigest(self) -> str:
        return "sha256:" + self._h.hexdigest()


def dataset_hash(examples: list[Example]) -> str:
    """The content hash of a dataset, pairs included: every caller (train, dataset versions) hashes with this."""
    h = DatasetHasher()
    for ex in examples:
        h.add(ex)
    return h.hexdigest()
