"""Answers whose structure differs from the majority: a JSON answer missing keys the others have, a non-JSON
answer among JSON ones, a label used once among repeated labels (usually a typo or a stray free-text answer).
"""

from __future__ import annotations

import difflib
import json
from collections import Counter

from tuneforge.data.findings import Finding, clip
from tuneforge.data.formats import Example
from tuneforge.data.normalise import normalise_answer

MAJORITY = 0.8  # a key or a shape counts as "the norm" when at least this share of answers has it


def majority_labels(answers: list[str]) -> dict[str, int] | None:
    """Label -> count when the answers are labels with a few stray values; None for free text or JSON.

    Unlike labels.label_set this tolerates outliers (the very answers we look for): the repeated short answers
    must cover 90% of the data.
    """
    if len(answers) < 10:
        return None
    counts = Counter(normalise_answer(a) for a in answers)
    repeated = {k: c for k, c in counts.items() if c > 1 and len(k) <= 60 and "\n" not in k
                and not k.startswith(("{", "["))}
    if len(repeated) < 2 or len(repeated) > 50 or sum(repeated.values()) < 0.9 * len(answers):
        return None
    return dict(counts.most_common())


def _json_object(text: str):
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _json_outliers(examples: list[Example]) -> list[Finding]:
    parsed = [_json_object(e.answer) for e in examples]
    objects = [p for p in parsed if p is not None]
    if len(examples) < 5 or len(objects) < MAJORITY * len(examples):
        return []
    share = len(objects) / len(examples)
    key_counts = Counter(k for p in objects for k in p)
    common = [k for k, c in key_counts.items() if c >= MAJORITY * len(objects)]
    out = []
    for i, (ex, p) in enumerate(zip(examples, parsed)):
        if p is None:
            out.append(Finding([i], f"line {ex.line}: answer is not a JSON object, while {share:.0%} are: "
                               f"{clip(ex.answer, 50)!r}", [ex.line]))
            continue
        missing = [k for k in common if k not in p]
        lonely = [k for k in p if key_counts[k] == 1 and len(objects) >= 10]
        if missing:
            out.append(Finding([i], f"line {ex.line}: JSON answer lacks key(s) {missing} that "
                               f"{MAJORITY:.0%}+ of answers have", [ex.line], extra={"missing_keys": missing}))
        if lonely:
            out.append(Finding([i], f"line {ex.line}: JSON answer has key(s) {lonely} that no other answer has",
                               [ex.line], extra={"unexpected_keys": lonely}))
    return out


def _label_outliers(examples: list[Example]) -> list[Finding]:
    counts = majority_labels([e.answer for e in examples])
    if not counts:
        return []
    known = [k for k, c in counts.items() if c > 1]
    out = []
    for i, ex in enumerate(examples):
        label = normalise_answer(ex.answer)
        if counts[label] == 1:
            close = difflib.get_close_matches(label, known, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            out.append(Finding([i], f"line {ex.line}: answer {clip(ex.answer, 40)!r} is outside the label set "
                               f"of {len(known)} labels{hint}", [ex.line], extra={"label": label}))
    return out


def structure_outliers(examples: list[Example]) -> list[Finding]:
    return _json_outliers(examples) + _label_outliers(examples)
