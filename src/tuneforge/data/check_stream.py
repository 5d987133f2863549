"""`tuneforge data check` on a file of any size: the checks of validate.py, streamed in bounded memory.

Rows are read one line at a time (formats.iter_file_examples) and checked in batches; what is kept per row is a
token count (4 bytes), and per file the label counters (at most 51) and the problems (the first MAX_PROBLEMS
in full; past that only counted). A 1 GB file once took 11 GB of memory because every row was kept.
"""

from __future__ import annotations

from array import array
from pathlib import Path

from tuneforge.data.formats import iter_file_examples, options_kwargs
from tuneforge.data.labels import LabelTally
from tuneforge.data.problems import Problem
from tuneforge.data.validate import (MIN_PER_LABEL, CheckReport, _count_problems, _label_problems,
                                     _length_problems, cut_input_problems, token_lengths)

BATCH = 256
MAX_PROBLEMS = 10_000


def check_file(path: str | Path, opts, tokenizer=None, max_tokens: int | None = None,
               min_per_label: int = MIN_PER_LABEL, input_lengths=None) -> CheckReport:
    """The same report as check_loaded(inspect_file(path)), without holding the file's rows. For a sentence
    encoder's head, `input_lengths(examples)` gives the tokens it reads of each, and `max_tokens` is where it cuts."""
    file = str(path)
    detected, items = iter_file_examples(path, **options_kwargs(opts))
    problems: list[Problem] = []
    dropped = 0
    bad_rows = n_valid = 0
    labels = LabelTally()
    counts = array("i") if tokenizer is not None or input_lengths is not None else None
    batch = []

    def keep(found: list[Problem]) -> None:
        nonlocal dropped
        room = MAX_PROBLEMS - len(problems)
        problems.extend(found[:max(room, 0)])
        dropped += max(len(found) - max(room, 0), 0)

    def flush() -> None:
        nonlocal counts
        if input_lengths is not None and batch:
            found = array("i", input_lengths(batch))
            counts.extend(found)
            keep(cut_input_problems(file, batch, found, max_tokens))
        elif counts is not None and batch:
            try:
                found, bounds = token_lengths(tokenizer, batch, max_tokens)
            except ValueError as err:  # a chat template training cannot use either; say so instead of crashing
                keep([Problem(file, None, "base", f"cannot measure token lengths: {err}",
                              "choose a base model whose chat template training supports", "warning")])
                counts = None
            else:
                counts.extend(found)
                if max_tokens:
                    keep(_length_problems(file, batch, found, max_tokens, bounds))
        batch.clear()

    for ex, found in items:
        if ex is None:
            if any(p.line is not None and p.severity == "error" for p in found):
                bad_rows += 1
            keep(found)
            continue
        n_valid += 1
        labels.add(ex.answer)
        batch.append(ex)
        if len(batch) >= BATCH:
            flush()
    flush()
    # The file-level verdicts are always kept, past the cap too.
    if n_valid or not problems:
        problems.extend(_count_problems(file, n_valid, n_valid + bad_rows))
    report = CheckReport(file, detected, [], problems, n_examples=n_valid)
    report.labels = labels.labels()
    if report.labels:
        problems.extend(_label_problems(file, report.labels, min_per_label))
    if counts is not None:
        report.token_counts = counts if len(counts) else None
        report.max_tokens = max_tokens
    if dropped:
        report.notes.append(f"{dropped:,} more problem(s) not listed (only the first {MAX_PROBLEMS:,} are kept)")
    report.problems = sorted(problems, key=lambda p: (p.line is not None, p.line or 0))
    return report
