"""A data file's valid rows without holding them: a sequence of Examples read back from disk on demand.

`data add`, `data clean` and `data report` compare rows with each other (duplicates, contradictions, label
suspects), so they once kept every row in memory: 1.4 GB for 100,000 rows. A `FileRows` keeps, per row, only
the byte offset of its line (8 bytes) and its line number (4 bytes); iterating reads the file again line by line
(bounded by the longest line), and `rows[i]` seeks to the line and parses it. `Subset` is what is left of those
rows after a cleaning step drops some (their indices), with rewritten rows (PII redaction) kept beside, so
writing the cleaned file or a dataset version is a second streaming pass choosing rows by index.

Only JSON Lines files are streamed; other formats (spreadsheets, one JSON array) are read whole by their readers
anyway and stay plain lists, which every function here accepts as well.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Sequence
from pathlib import Path

from tuneforge.data.formats import (ALL_FORMATS, Example, LoadResult, _finish, _read_problem, _row_example, _streamable,
                                    inspect_file, stream_json_examples)
from tuneforge.data.jsonl import _BOM, file_lines, parse_json_text
from tuneforge.data.problems import DataError

_CACHED = 256  # recently read rows kept parsed: duplicate groups and at_lines read the same rows together


class FileRows(Sequence):
    """The valid examples of one JSON Lines file, in file order, read back from disk when asked for."""

    def __init__(self, path: Path, fmt: str, system_prompt: str | None, line_offsets: array, lines: array):
        self.path, self.fmt, self.system_prompt = path, fmt, system_prompt
        self._offsets, self._lines = line_offsets, lines  # byte offset of every line; line number of every row
        self._cache: dict[int, Example] = {}
        self._file = None

    def __len__(self) -> int:
        return len(self._lines)

    def line_of(self, i: int) -> int:
        return self._lines[i]

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        found = self._cache.get(i)
        if found is None:
            found = self._read(i)
            if len(self._cache) >= _CACHED:
                del self._cache[next(iter(self._cache))]
            self._cache[i] = found
        return found

    def _read(self, i: int) -> Example:
        lineno = self._lines[i]
        if self._file is None:
            self._file = open(self.path, "rb")  # noqa: SIM115 (kept open for the object's life: many seeks)
        self._file.seek(self._offsets[lineno - 1])
        raw = self._file.readline()
        raw = raw[:-1] if raw.endswith(b"\n") else raw
        if lineno == 1 and raw.startswith(_BOM):
            raw = raw[len(_BOM):]
        value, problems = parse_json_text(raw.decode("utf-8"), str(self.path), lineno)
        ex, problems = _row_example(value, lineno, self.fmt, str(self.path), self.system_prompt)
        if ex is None:  # the file changed under us since it was read
            raise OSError(f"{self.path}: line {lineno} changed while it was being read")
        return ex

    def __iter__(self) -> Iterator[Example]:
        _, items = stream_json_examples(file_lines(self.path), str(self.path), self.fmt, self.system_prompt)
        for ex, _problems in items:
            if ex is not None:
                yield ex

    def iter_indexed(self) -> Iterator[tuple[int, Example]]:
        return enumerate(self)

    def __del__(self):
        if self._file is not None:
            self._file.close()


class Subset(Sequence):
    """Rows of `base` at `indices` (ascending), some replaced by a rewritten version (`overrides`, by base index)."""

    def __init__(self, base: Sequence, indices=None, overrides: dict | None = None):
        self.base = base
        self.indices = array("q", range(len(base)) if indices is None else indices)
        self.overrides = overrides or {}

    def __len__(self) -> int:
        return len(self.indices)

    def base_index(self, i: int) -> int:
        return self.indices[i]

    def line_of(self, i: int) -> int | None:
        b = self.indices[i]
        if b in self.overrides:
            return self.overrides[b].line
        return self.base.line_of(b) if hasattr(self.base, "line_of") else self.base[b].line

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        b = self.indices[i]
        found = self.overrides.get(b)
        return found if found is not None else self.base[b]

    def __iter__(self) -> Iterator[Example]:
        for _, ex in self.iter_indexed():
            yield ex

    def iter_indexed(self) -> Iterator[tuple[int, Example]]:
        """(base index, row) in order, reading the base once from start to end."""
        wanted = iter(self.indices)
        want = next(wanted, None)
        for b, ex in enumerate(self.base):  # positions in the base (a base Subset's own iteration streams too)
            if want is None:
                return
            if b == want:
                yield b, self.overrides.get(b, ex)
                want = next(wanted, None)

    def without(self, drop: set[int]) -> Subset:
        """What is left after dropping positions `drop` (positions in this subset, as the steps number them)."""
        return Subset(self.base, (b for i, b in enumerate(self.indices) if i not in drop), self.overrides)

    def replaced(self, rewritten: dict[int, Example]) -> Subset:
        """The same rows with positions in `rewritten` replaced by the given examples."""
        overrides = dict(self.overrides)
        overrides.update({self.indices[i]: ex for i, ex in rewritten.items()})
        return Subset(self.base, self.indices, overrides)


def inspect_file_rows(path: str | Path, data_format: str = "auto", input_column: str = "input",
                      output_column: str = "output", system_prompt: str | None = None,
                      sheet: str | None = None) -> LoadResult:
    """Like formats.inspect_file (the same problems, format and rows), with a JSON Lines file's rows as a
    FileRows read back from disk instead of a list in memory."""
    path = Path(path)
    try:
        streamable = (data_format in ALL_FORMATS and _read_problem(path) is None
                      and _streamable(path, data_format))
    except OSError:
        streamable = False
    if not streamable:
        return inspect_file(path, data_format, input_column, output_column, system_prompt, sheet)
    offsets = array("q")

    def lines():
        at = 0
        with open(path, "rb", buffering=1 << 20) as f:
            for raw in f:
                offsets.append(at)
                at += len(raw)
                yield raw[:-1] if raw.endswith(b"\n") else raw

    detected, items = stream_json_examples(lines(), str(path), data_format, system_prompt)
    rows, problems = array("i"), []
    for ex, probs in items:
        problems.extend(probs)
        if ex is not None:
            rows.append(ex.line)
    result = _finish(LoadResult(FileRows(path, detected, system_prompt, offsets, rows), problems, detected),
                     str(path))
    return result


def load_file_rows(path: str | Path, **reader_options) -> tuple[Sequence[Example], str]:
    """formats.load_examples with the rows left on disk (inspect_file_rows): (examples, detected format), or a
    DataError listing every problem if any row is bad. For a file that is only read, such as `--eval-data`."""
    result = inspect_file_rows(path, **reader_options)
    if any(p.severity == "error" for p in result.problems):
        raise DataError(result.problems)
    return result.examples, result.detected


def rows_of(examples: Sequence) -> Subset:
    """Any sequence of examples as a Subset (all of it), so the cleaning steps drop rows by index."""
    return examples if isinstance(examples, Subset) else Subset(examples)

