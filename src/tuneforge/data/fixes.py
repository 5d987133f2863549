"""The fixes a person chose on the workbench's findings, applied to loaded examples before they are checked again
or stored as a dataset version (the web app's one-click fixes; `POST /v1/datasets/check` and `/v1/datasets`).

Each fix reuses the cleaning step that found the problem, so a fix removes exactly what the finding named:
duplicates are dropped by `run_cleaning` (exact, then near), PII is replaced by the pii step's own redaction.
Resolving a contradiction is a person's decision tuneforge cannot make, so it is given as data: the examples on
the named lines get the chosen answer (they may then be duplicates, which drop_duplicates removes).
"""

from __future__ import annotations

from dataclasses import replace

from tuneforge.config import DatasetFixes
from tuneforge.data.clean import CleanOptions, redact_example, run_cleaning
from tuneforge.data.formats import Example, LoadResult
from tuneforge.errors import UserError


def _relabelled(examples: list[Example], fixes: DatasetFixes) -> list[Example]:
    answer_at = {line: r.answer for r in fixes.relabel for line in r.lines}
    if not answer_at:
        return examples
    by_line = {ex.line: ex for ex in examples}
    unknown = sorted(set(answer_at) - set(by_line))
    if unknown:
        raise UserError(f"fixes.relabel: no example on line(s) {', '.join(map(str, unknown))}")
    pairs = sorted(line for line in answer_at if by_line[line].is_preference)
    if pairs:
        raise UserError(f"fixes.relabel: line(s) {', '.join(map(str, pairs))} hold preference pairs, not labels")
    return [replace(ex, messages=[*ex.messages[:-1], {**ex.messages[-1], "content": answer_at[ex.line]}])
            if ex.line in answer_at else ex for ex in examples]


def apply_fixes(load: LoadResult, fixes: DatasetFixes) -> LoadResult:
    """`load` with the chosen fixes applied; its problems too lose the refused rows when those are dropped."""
    examples = _relabelled(list(load.examples), fixes)
    problems = load.problems
    if fixes.drop_invalid_rows:  # the rows were never loaded; only their problems go (whole-file ones stay)
        problems = [p for p in problems if p.severity != "error" or p.line is None]
    if fixes.drop_duplicates:
        kept = run_cleaning(LoadResult(examples, [], load.detected), None, CleanOptions(pii="flag")).kept
        examples = list(kept)
    if fixes.redact_pii:
        examples = [redact_example(ex) for ex in examples]
    return LoadResult(examples, problems, load.detected)
