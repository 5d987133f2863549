"""JSON Lines, one line at a time: a row's value or the problems that stop it, pinned to its line.

Reading line by line keeps memory bounded by the longest line, not the file (a 1 GB file once took 11 GB), and
one bad line (invalid UTF-8, bad JSON, a 5000-digit number, a lone surrogate) is reported at its line while
the others are still read. A lone surrogate (`"\\ud800"`) is valid JSON but not Unicode text: the tokenizer
and the UTF-8 writer both fail on it, so it is refused here, naming the field.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

from tuneforge.data.problems import Problem

# \uD800-\uDFFF escapes: only lines containing one can hold a lone surrogate, so only they are walked.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_BOM = b"\xef\xbb\xbf"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def _has_lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
        return False
    except UnicodeEncodeError:
        return True


def surrogate_field(value, path: str = "") -> str | None:
    """The path of the first string (or key) holding a lone surrogate, '' for the value itself, else None."""
    if isinstance(value, str):
        return path if _has_lone_surrogate(value) else None
    if isinstance(value, list):
        for i, v in enumerate(value):
            found = surrogate_field(v, f"{path}[{i}]")
            if found is not None:
                return found
    elif isinstance(value, dict):
        for k, v in value.items():
            where = f"{path}.{k}" if path else str(k)
            if _has_lone_surrogate(k):
                return where.encode("utf-8", "backslashreplace").decode("ascii")
            found = surrogate_field(v, where)
            if found is not None:
                return found
    return None


def surrogate_problem(value, raw: str, file: str, line: int) -> Problem | None:
    if not _SURROGATE_ESCAPE.search(raw):
        return None
    where = surrogate_field(value)
    if where is None:
        return None
    return Problem(file, line, where or None, "contains a lone surrogate (\\ud800-\\udfff): not valid Unicode text",
                   "remove it, or re-export the file as UTF-8 with paired surrogates")


def parse_json_text(raw: str, file: str, line: int) -> tuple[object, list[Problem]]:
    """One line's text -> (value, []) or (None, [problem])."""
    import json

    try:
        value = json.loads(raw)
    except json.JSONDecodeError as e:
        return None, [Problem(file, line, None, f"bad JSON: {e.msg} (column {e.colno})",
                              "each line must be one complete JSON object")]
    except RecursionError:
        return None, [Problem(file, line, None, "bad JSON: nested too deeply")]
    except ValueError as e:  # e.g. an integer longer than Python's int conversion limit
        limit = sys.get_int_max_str_digits()
        why = f"a number with more than {limit} digits" if "digits" in str(e) else str(e)
        return None, [Problem(file, line, None, f"bad JSON: {why}", "store very long numbers as strings")]
    problem = surrogate_problem(value, raw, file, line)
    return (None, [problem]) if problem else (value, [])


def iter_json_lines(lines: Iterable[bytes], file: str) -> Iterator[tuple[int, object, list[Problem]]]:
    """(line, value, problems) for each non-blank line; value is None when problems stop the row."""
    offset = 0
    for lineno, raw in enumerate(lines, start=1):
        start, offset = offset, offset + len(raw)
        if lineno == 1:
            if raw.startswith(UTF16_BOMS):
                yield 1, None, [Problem(file, None, None, "is UTF-16 text, not UTF-8", "save the file as UTF-8")]
                return
            if raw.startswith(_BOM):
                raw, start = raw[len(_BOM):], start + len(_BOM)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            yield lineno, None, [Problem(file, lineno, None, f"not valid UTF-8 (byte {start + err.start})",
                                         "save the file as UTF-8")]
            continue
        if not text.strip():
            continue
        value, problems = parse_json_text(text, file, lineno)
        yield lineno, value, problems


def file_lines(path: Path, chunk: int = 1 << 20) -> Iterator[bytes]:
    """A file's lines split at b'\\n' only (like an editor's line numbers), read in bounded chunks."""
    with open(path, "rb", buffering=chunk) as f:
        for raw in f:
            yield raw[:-1] if raw.endswith(b"\n") else raw
