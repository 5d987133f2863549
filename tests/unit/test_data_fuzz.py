"""Fuzz the data reader, `data check` and `data clean` with 10,000 generated malformed files.

Files are built from valid rows of every format with keys deleted, values replaced by arbitrary JSON and keys
added (so they get past the JSON parser and into the row converters), or from arbitrary JSON and bytes, then
damaged at byte level (truncated, bytes inserted or flipped, invalid UTF-8), and read as .jsonl/.json/.csv/.tsv/
.xlsx. The contract: nothing raises; every problem names the file, and a line
wherever the problem is about a row, within the file's lines.
"""

from __future__ import annotations

import copy
import io
import json
import random
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tuneforge.data.clean import run_cleaning
from tuneforge.data.formats import parse_data
from tuneforge.data.problems import DataError
from tuneforge.data.validate import check_loaded

FILES = 10_000
KEYS = ["messages", "role", "content", "weight", "name", "prompt", "completion", "instruction", "input", "output",
        "system", "conversations", "from", "value", "preferred_output", "non_preferred_output", "chosen", "rejected"]
WORDS = ["system", "user", "assistant", "human", "gpt", "tool", "", " ", "software", "travel", "{", "\ud7ff",
         "a@b.co", "+31 20 555 0134", "NL91ABNA0417164300", "4111 1111 1111 1111"]

# Valid rows of every format; the generator damages a copy of one (a key deleted, a value replaced, a key added)
# so most files get past the JSON parser and exercise the row converters and checks.
VALID_ROWS = [
    {"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "q"},
                  {"role": "assistant", "content": "software", "weight": 1}]},
    {"prompt": "q", "completion": "travel"},
    {"instruction": "categorise", "input": "Adobe", "output": "software", "system": "s"},
    {"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}], "system": "s"},
    {"input": {"messages": [{"role": "user", "content": "q"}]},
     "preferred_output": [{"role": "assistant", "content": "good"}],
     "non_preferred_output": [{"role": "assistant", "content": "bad"}]},
    {"prompt": [{"role": "user", "content": "q"}], "chosen": "good", "rejected": "bad"},
]


def _xlsx_bytes() -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["input", "output"])
    for k in range(3):
        ws.append([f"line {k}", "software" if k % 2 else None])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


VALID_XLSX = _xlsx_bytes()


def random_value(rng: random.Random, depth: int = 0):
    r = rng.random()
    if depth >= 3 or r < 0.55:
        return rng.choice([None, True, False, 0, 1, -1, 2, 1.5, float("inf"), rng.choice(WORDS),
                           "".join(rng.choice("ab \n\t\"{}é😀\u2028") for _ in range(rng.randint(0, 6)))])
    if r < 0.8:
        return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {rng.choice(KEYS + ["", "x"]): random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))}


def _containers(node, out):
    if isinstance(node, (dict, list)):
        out.append(node)
        for child in (node.values() if isinstance(node, dict) else node):
            _containers(child, out)
    return out


def damaged_row(rng: random.Random):
    if rng.random() < 0.3:
        return random_value(rng)
    row = copy.deepcopy(rng.choice(VALID_ROWS))
    for _ in range(rng.randint(0, 2)):
        node = rng.choice(_containers(row, []))
        if isinstance(node, dict) and node and rng.random() < 0.3:
            del node[rng.choice(list(node))]
        elif isinstance(node, dict):
            node[rng.choice(list(node) + KEYS)] = random_value(rng)
        elif node:
            node[rng.randrange(len(node))] = random_value(rng)
    return row


def damaged_file(seed: int, suffix: str, damage: str) -> bytes:
    rng = random.Random(seed)
    if suffix == ".xlsx" and rng.random() < 0.5:
        raw = VALID_XLSX
    elif rng.random() < 0.1:
        raw = rng.randbytes(rng.randint(0, 64))
    else:
        lines = [json.dumps(damaged_row(rng), ensure_ascii=rng.random() < 0.5) for _ in range(rng.randint(0, 8))]
        if lines and rng.random() < 0.2:
            lines = ["[" + ",\n".join(lines) + "]"]  # one JSON array instead of JSON lines
        elif suffix in (".csv", ".tsv") and rng.random() < 0.5:
            sep = "," if suffix == ".csv" else "\t"
            lines = [sep.join(["input", "output"])] + [
                sep.join(rng.choice(['"a', "b", "", '"x,y"', "software", "\u00e9"]) for _ in range(rng.randint(0, 3)))
                for _ in range(rng.randint(0, 6))]
        raw = "\n".join(lines).encode("utf-8")
    if raw and damage != "none":
        pos = rng.randrange(len(raw))
        if damage == "truncate":
            raw = raw[:pos]
        elif damage == "insert":
            raw = raw[:pos] + rng.choice([b"\xff", b"\n", b'"', b",", b"{", b"\x00", b"\xc3", b"\x0c", b"\r"]) + raw[pos:]
        else:
            raw = raw[:pos] + bytes([raw[pos] ^ (1 << rng.randrange(8))]) + raw[pos + 1:]
    return raw


_FILE_LEVEL = re.compile(r"^(no examples|only \d+ valid|\d+ examples; under|not a readable \.xlsx|cannot read the "
                         r"sheet|class .* has only|is UTF-16 text)")
seen = {"files": 0}


def test_random_bytes_that_open_like_utf16_are_one_file_level_problem():
    """Damage can put a UTF-16 byte-order mark first (CI's fuzz run drew one): the whole file is refused once,
    with no line, which the fuzz test's file-level messages must include."""
    for raw in (b"\xff\xfe" + '{"messages": []}'.encode("utf-16-le"), b"\xfe\xff\x00{"):
        problems = check_loaded(parse_data(raw, "fuzz.jsonl"), "fuzz.jsonl").problems
        assert [(p.line, p.message) for p in problems if p.severity == "error"] == [(None, "is UTF-16 text, not UTF-8")]
        assert all(p.line is not None or _FILE_LEVEL.match(p.message) for p in problems)


@settings(max_examples=FILES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
# Hypothesis searches over seeds and damage kinds; a plain seeded generator builds each file, because drawing
# whole nested files from Hypothesis strategies cost ~40 ms a file and 10,000 files must fit in a minute.
@given(st.integers(0, 2**64 - 1), st.sampled_from([".jsonl", ".jsonl", ".jsonl", ".json", ".csv", ".tsv", ".xlsx"]),
       st.sampled_from(["none", "truncate", "insert", "flip"]))
def _never_crashes(seed, suffix, damage):
    name, raw = f"fuzz{suffix}", damaged_file(seed, suffix, damage)
    seen["files"] += 1
    result = parse_data(raw, name)
    report = check_loaded(result, name)
    n_lines = raw.count(b"\n") + raw.count(b"\r") + 1  # CSV, like many editors, also ends a line at a lone CR
    for p in report.problems:
        assert p.file == name
        if p.line is None:
            assert _FILE_LEVEL.match(p.message) or name.endswith(".xlsx"), p
        elif not name.endswith(".xlsx"):
            assert 1 <= p.line <= n_lines, (p, n_lines)
    if report.errors:
        str(DataError(report.problems))  # what load_examples raises must render
    run_cleaning(result)


def test_fuzz_reader_check_and_clean_never_crash():
    _never_crashes()
    assert seen["files"] >= FILES


# Defects that always make a row invalid, planted on one known line of an otherwise valid file.
PLANTED = {
    "bad JSON": lambda row: json.dumps(row)[:-1],
    "content not a string": lambda row: json.dumps({"messages": [{"role": "user", "content": 7},
                                                                 row["messages"][1]]}),
    "unknown role": lambda row: json.dumps({"messages": [row["messages"][0], {"role": "robot", "content": "a"}]}),
    "no answer": lambda row: json.dumps({"messages": row["messages"][:1]}),
    "empty answer": lambda row: json.dumps({"messages": [row["messages"][0], {"role": "assistant", "content": " "}]}),
    "not an object": lambda row: json.dumps([row]),
}


def test_each_planted_defect_is_reported_on_its_line():
    """Not only "no crash": in 600 generated files, the one damaged row is refused, on its own line, and no
    valid row is blamed."""
    rng = random.Random(7)
    for k in range(600):
        rows = [{"messages": [{"role": "user", "content": f"invoice {k} line {i}"},
                              {"role": "assistant", "content": rng.choice(["software", "travel"])}]}
                for i in range(rng.randint(12, 30))]
        target = rng.randrange(len(rows))
        kind = rng.choice(sorted(PLANTED))
        lines = [json.dumps(r) for r in rows]
        lines[target] = PLANTED[kind](rows[target])
        report = check_loaded(parse_data("\n".join(lines).encode(), "planted.jsonl"), "planted.jsonl")
        row_errors = {p.line for p in report.errors if p.line is not None}
        assert row_errors == {target + 1}, (kind, target + 1, [str(p) for p in report.errors])
        assert len(report.examples) == len(rows) - 1


# Planted defects: each is one line of a file of valid rows, with the message it must be reported with.
PLANTED_LINES = {
    "bad_json": ('{"messages": [{"role": "user", "content": "q"}', "bad JSON"),
    "lone_surrogate": ('{"messages": [{"role": "user", "content": "a \\ud800 b"}, '
                       '{"role": "assistant", "content": "software"}]}', "lone surrogate"),
    "long_integer": ('{"messages": [{"role": "user", "content": ' + "9" * 5000 + '}]}', "more than 4300 digits"),
    "unknown_role": ('{"messages": [{"role": "bot", "content": "q"}, {"role": "assistant", "content": "a"}]}',
                     "unknown role"),
    "empty_answer": ('{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": " "}]}',
                     "is empty"),
    "not_an_object": ('"a string, not a row"', "expected a JSON object"),
    "no_messages": ('{"text": "hello"}', "missing"),
}
BAD_UTF8 = b'{"messages": [{"role": "user", "content": "caf\xe9"}, {"role": "assistant", "content": "a"}]}'


def _planted_file(seed: int) -> tuple[bytes, dict[int, str]]:
    rng = random.Random(seed)
    n = rng.randint(12, 40)
    lines = [json.dumps({"messages": [{"role": "user", "content": f"invoice line {k}"},
                                      {"role": "assistant", "content": rng.choice(["software", "travel"])}]}).encode()
             for k in range(n)]
    expected = {}
    for where in rng.sample(range(n), rng.randint(1, 5)):
        kind = rng.choice([*PLANTED_LINES, "bad_utf8"])
        lines[where] = BAD_UTF8 if kind == "bad_utf8" else PLANTED_LINES[kind][0].encode()
        expected[where + 1] = "not valid UTF-8" if kind == "bad_utf8" else PLANTED_LINES[kind][1]
    return b"\n".join(lines) + b"\n", expected


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(st.integers(0, 2**32 - 1))
def _planted_defects_are_reported_on_their_lines(tmp_dir, seed):
    from tuneforge.config import DataCheckConfig
    from tuneforge.data.check_stream import check_file

    raw, expected = _planted_file(seed)
    path = tmp_dir / f"planted-{seed}.jsonl"
    path.write_bytes(raw)
    in_memory = check_loaded(parse_data(raw, str(path)), str(path))
    streamed = check_file(path, DataCheckConfig(data=str(path)))
    for report in (in_memory, streamed):
        errors = {}
        for p in report.errors:
            if p.line is not None:
                errors.setdefault(p.line, []).append(p.message)
        assert set(errors) == set(expected), (errors, expected)  # every planted line, and no other line
        for line, fragment in expected.items():
            assert any(fragment in m for m in errors[line]), (line, fragment, errors[line])
    assert [str(p) for p in streamed.problems] == [str(p) for p in in_memory.problems]
    path.unlink()


def test_planted_defects_are_reported_on_their_lines_streamed_and_in_memory(tmp_path):
    _planted_defects_are_reported_on_their_lines(tmp_path)
