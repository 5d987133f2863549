"""The cleaning finds what it found before its memory was bounded: the same exact and near duplicates,
contradictions, leaks, personal data, outliers, suspects and kept rows, to the line and the score.

The expected answers (golden/cleaning_before_streaming.json) were written by tests/unit/cleaning_corpus.py with the
implementation that held every input text in memory; the files are generated again here from their seeds. The
suspect lists were rewritten once since, when the step stopped cutting them to 20: the suspects the file held
before came out the same and in the same order, with the rest appended (9, 20 and 12 of 25)."""

from __future__ import annotations

import json

from cleaning_corpus import GOLDEN, answers


def test_cleaning_results_are_those_of_the_in_memory_implementation(tmp_path):
    # Rows read back from disk, as the CLI reads them (test_data_streaming.py holds both readers to the same).
    expected = json.loads(GOLDEN.read_text(encoding="utf-8"))
    got = json.loads(json.dumps(answers(tmp_path, streamed=True)))  # tuples as lists, as in the file
    assert got.keys() == expected.keys()
    for key in expected:
        assert got[key] == expected[key], key
