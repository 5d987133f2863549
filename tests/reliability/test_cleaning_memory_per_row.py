"""Issue 12: `data clean`, `data report` and `data add` keep a fixed, small number of bytes per row, so memory
stays bounded as a file grows (the rows themselves stay on disk: row_store.py).

Each step of the cleaning (and the check `data add` and `data report` run first) is measured with tracemalloc on
the same kind of rows at two sizes; the growth of its peak between them, divided by the rows added, is what it
keeps per row. Before, the near-duplicate search held every input text and its normalised copy (about 850 bytes a
row here) and the exact-duplicate step a dictionary of the rows' texts (about 500 bytes a row).
"""

from __future__ import annotations

import functools
import json
import random
import tracemalloc

import pytest

from tuneforge.data import clean, duplicates, validate
from tuneforge.data.row_store import inspect_file_rows

WORDS = ("licence renewal team plan billed yearly monthly subscription seats support hotel night taxi airport "
         "laptop monitor dock keyboard mobile data bundle paper toner campaign spend conference ticket").split()
# Bytes per row each step may keep: the near-duplicate search a MinHash signature (64 x 4 bytes), the offset of
# the text in its temporary file and a group link (8 + 8) and, for one band at a time, its sort buffers; every
# other step a digest or a length per row and its sort buffers. Measured before the change (same test, main at
# the time): near duplicates 479, exact duplicates 397, groups 204, check 132, outliers 99 bytes per row.
NEAR_DUPLICATE_BUDGET = 300
OTHER_BUDGET = 50
SMALL, LARGE = 5_000, 15_000  # both at least one block of texts hashed together (similarity._TEXT_BLOCK)


def _write(path, n: int, seed: int = 0):
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            text = f"Vendor {rng.randrange(50)} invoice {rng.randrange(10**6)}: " + " ".join(rng.choices(WORDS, k=8))
            answer = f"{rng.choice(WORDS)} {rng.randrange(10**6)}"  # free text: the label steps stop early
            f.write(json.dumps({"messages": [{"role": "user", "content": text},
                                             {"role": "assistant", "content": answer}]}) + "\n")
    return path


def _peaks(path, monkeypatch) -> dict[str, int]:
    """Peak bytes each step allocated above what was held when it started."""
    peaks: dict[str, int] = {}

    def measured(name, f):
        @functools.wraps(f)
        def run(*args, **kwargs):
            start, _ = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            out = f(*args, **kwargs)
            peaks[name] = max(peaks.get(name, 0), tracemalloc.get_traced_memory()[1] - start)
            return out
        return run

    for module, name in [(duplicates, "exact_duplicates"), (duplicates, "input_pairs"), (duplicates, "near_duplicates"),
                         (duplicates, "contradictions"), (clean, "_pii_findings"), (clean, "structure_outliers"),
                         (clean, "label_suspects"), (validate, "check_loaded")]:
        monkeypatch.setattr(module, name, measured(name, getattr(module, name)))
    tracemalloc.start()
    try:
        load = inspect_file_rows(path)
        validate.check_loaded(load, str(path))
        clean.run_cleaning(load)
    finally:
        tracemalloc.stop()
    return peaks


@pytest.fixture(scope="module")
def per_row(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rows")
    with pytest.MonkeyPatch.context() as mp:
        small = _peaks(_write(folder / "small.jsonl", SMALL), mp)
    with pytest.MonkeyPatch.context() as mp:
        large = _peaks(_write(folder / "large.jsonl", LARGE), mp)
    return {step: (large[step] - small[step]) / (LARGE - SMALL) for step in large}


def test_near_duplicate_search_keeps_a_signature_per_row_not_the_texts(per_row):
    assert per_row["input_pairs"] <= NEAR_DUPLICATE_BUDGET, per_row


def test_every_other_step_keeps_a_few_bytes_per_row(per_row):
    others = {k: round(v) for k, v in per_row.items() if k != "input_pairs"}
    assert max(others.values()) <= OTHER_BUDGET, others
