"""Rows read back from disk (data/row_store.py) are the rows the in-memory reader gives, and every result built on
them (dataset hash, cleaning, a stored version) is the same as from the rows held in memory."""

from __future__ import annotations

import json
from pathlib import Path

from tuneforge.data.clean import CleanOptions, run_cleaning
from tuneforge.data.formats import dataset_hash, inspect_file
from tuneforge.data.row_store import FileRows, Subset, inspect_file_rows

DIRTY = Path(__file__).resolve().parents[2] / "examples" / "invoice-categories-dirty"


def _rows(n: int = 60) -> list[str]:
    labels = ["software", "travel", "hardware"]
    out = []
    for i in range(n):
        label = labels[i % 3]
        out.append(json.dumps({"messages": [{"role": "system", "content": "Categorise."},
                                            {"role": "user", "content": f"{label} invoice number {i * 7919} é"},
                                            {"role": "assistant", "content": label}]}, ensure_ascii=False))
    return out


def _write(path: Path, lines: list[str], bom: bool = False) -> Path:
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + ("\n".join(lines) + "\n").encode("utf-8"))
    return path


def _same_rows(a, b) -> None:
    assert len(a) == len(b)
    assert [e.to_json() for e in a] == [e.to_json() for e in b]
    assert [e.line for e in a] == [e.line for e in b]


def test_file_rows_match_the_in_memory_reader_by_index_and_in_order(tmp_path):
    lines = _rows()
    lines[3] = "{not json"          # a bad row is left out, with its problem, as in memory
    lines[7] = ""                   # a blank line still counts for line numbers
    path = _write(tmp_path / "d.jsonl", lines, bom=True)  # the BOM belongs to line 1 only
    memory, streamed = inspect_file(path), inspect_file_rows(path)
    assert isinstance(streamed.examples, FileRows)
    assert streamed.detected == memory.detected
    assert [p.to_dict() for p in streamed.problems] == [p.to_dict() for p in memory.problems]
    _same_rows(streamed.examples, memory.examples)
    # Read back one at a time, out of order, as the cleaning steps do.
    for i in [0, len(memory.examples) - 1, 5, 2, 0]:
        assert streamed.examples[i].to_json() == memory.examples[i].to_json()
        assert streamed.examples[i].line == memory.examples[i].line == streamed.examples.line_of(i)


def test_dataset_hash_is_the_same_streamed_as_in_memory(tmp_path):
    path = _write(tmp_path / "d.jsonl", _rows(), bom=True)
    memory = inspect_file(path).examples
    streamed = inspect_file_rows(path).examples
    assert dataset_hash(streamed) == dataset_hash(memory)
    # and on rows chosen by index (what a cleaning step keeps)
    keep = [i for i in range(len(memory)) if i % 4]
    assert dataset_hash(Subset(streamed, keep)) == dataset_hash([memory[i] for i in keep])
    assert dataset_hash(Subset(streamed, keep)) != dataset_hash(memory)


def test_subset_keeps_rows_by_index_and_rewritten_rows(tmp_path):
    path = _write(tmp_path / "d.jsonl", _rows(20))
    rows = inspect_file_rows(path).examples
    memory = inspect_file(path).examples
    sub = Subset(rows).without({0, 5, 19})
    expected = [e for i, e in enumerate(memory) if i not in {0, 5, 19}]
    _same_rows(sub, expected)
    assert [sub[i].to_json() for i in range(len(sub))] == [e.to_json() for e in expected]
    changed = sub.replaced({2: memory[10]})
    assert changed[2] is memory[10] and list(changed)[2] is memory[10]
    assert changed.base_index(2) == 3 and sub[2].to_json() == memory[3].to_json()


def test_cleaning_streamed_is_the_same_as_in_memory():
    train = DIRTY / "train.jsonl"
    evals = inspect_file(DIRTY / "eval.jsonl").examples
    for opts in (CleanOptions(), CleanOptions(pii="redact", drop_contradictions=True), CleanOptions(pii="drop")):
        memory = run_cleaning(inspect_file(train), evals, opts)
        streamed = run_cleaning(inspect_file_rows(train), evals, opts)
        assert streamed.to_dict() == memory.to_dict()
        _same_rows(streamed.kept, memory.kept)
        assert dataset_hash(streamed.kept) == dataset_hash(memory.kept)


def test_file_rows_hold_no_parsed_rows_after_a_full_pass(tmp_path):
    path = _write(tmp_path / "d.jsonl", _rows(2000))
    rows = inspect_file_rows(path).examples
    assert sum(1 for _ in rows) == 2000
    for i in range(0, 2000, 3):
        rows[i]
    assert len(rows._cache) <= 256  # a bounded cache, not the file


def test_split_of_streamed_rows_is_the_in_memory_split(tmp_path):
    from tuneforge.data.split import split_examples

    path = _write(tmp_path / "d.jsonl", _rows(50))
    streamed = Subset(inspect_file_rows(path).examples).without({1, 2})
    memory = [e for i, e in enumerate(inspect_file(path).examples) if i not in {1, 2}]
    for got, want in zip(split_examples(streamed, 0.2, 7), split_examples(memory, 0.2, 7)):
        _same_rows(got, want)
        _same_rows(Subset(got).without({0}), want[1:])  # a subset of a subset reads the right rows


def test_a_version_stored_from_streamed_rows_has_the_in_memory_hash_and_rows(tmp_path):
    from tuneforge.data.versions import add_version, read_manifest

    path = _write(tmp_path / "d.jsonl", _rows(30), bom=True)
    memory = inspect_file(path).examples
    vid, folder, created = add_version(inspect_file_rows(path).examples, path, "chat", "streamed")
    manifest = read_manifest(folder)
    assert created and manifest["content_hash"] == dataset_hash(memory)
    assert manifest["counts"]["examples"] == len(memory) and manifest["counts"]["preference_pairs"] == 0
    stored = (folder / "data.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in stored] == [e.to_json() for e in memory]
    again = add_version(memory, path, "chat", "streamed")  # the same data held in memory: the same version
    assert again == (vid, folder, False)


def _eval_rows(cfg_path: Path, eval_path: Path):
    """The rows `data clean` / `data report` read for --eval-data."""
    from tuneforge.cli.data import _load_evals
    from tuneforge.config import DataCleanConfig

    return _load_evals(DataCleanConfig(data=str(cfg_path), eval_data=str(eval_path)))


def test_eval_data_is_read_back_from_disk_in_bounded_memory(tmp_path):
    import tracemalloc

    def peak(n: int) -> int:
        path = _write(tmp_path / f"eval-{n}.jsonl", _rows(n))
        tracemalloc.start()
        try:
            rows = _eval_rows(path, path)
            held = tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()
        assert len(rows) == n
        return held

    small, large = 2_000, 6_000
    peak(10)  # the imports of a first call are not rows
    at_small = peak(small)
    per_row = (peak(large) - at_small) / (large - small)
    # A line offset and a line number per row (12 bytes) and their arrays' slack; held as parsed rows it was
    # about 1,200 bytes a row here (9 bytes a row measured read back from disk).
    assert per_row < 50, per_row


def test_cleaning_with_eval_data_read_back_from_disk_is_the_same_as_in_memory(tmp_path):
    train, evals = DIRTY / "train.jsonl", DIRTY / "eval.jsonl"
    streamed = _eval_rows(train, evals)
    assert isinstance(streamed, FileRows)
    _same_rows(streamed, inspect_file(evals).examples)
    memory = run_cleaning(inspect_file_rows(train), inspect_file(evals).examples)
    result = run_cleaning(inspect_file_rows(train), streamed)
    assert result.to_dict() == memory.to_dict()
    assert any(s.name == "leakage" and s.count for s in result.steps)  # the eval file does overlap: a real check


def test_a_bad_eval_data_row_is_refused_naming_its_line(tmp_path):
    import pytest

    from tuneforge.data.problems import DataError

    lines = _rows(5)
    lines[2] = "{not json"
    bad = _write(tmp_path / "eval.jsonl", lines)
    with pytest.raises(DataError) as err:
        _eval_rows(bad, bad)
    assert any(p.line == 3 and p.severity == "error" for p in err.value.problems)
