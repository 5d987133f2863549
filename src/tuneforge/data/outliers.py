"""Answers whose structure differs from the majority: a JSON answer missing keys the others have, a non-JSON
answer among JSON ones, a label used once among repeated labels (usually a typo or a stray free-text answer).

Rows are read front to back (they may be read back from disk: row_store.py), twice where a step needs the whole
picture first; per row only an 8-byte digest of its answer is kept, never the answers themselves.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tuneforge.data.findings import Finding, clip
from tuneforge.data.formats import Example
from tuneforge.data.normalise import normalise_answer

MAJORITY = 0.8  # a key or a shape counts as "the norm" when at least this share of answers has it


@dataclass
class MajorityLabels:
    """The answers are labels with a few stray values: the repeated ones, and the positions of the strays."""

    repeated: dict[str, int]  # every answer given more than once -> its count (most common first)
    once: np.ndarray  # positions of the answers given exactly once, ascending


def _label_key(answer: str) -> tuple[int, bool]:
    """(64-bit digest of the comparison form, whether that form could be a label: short, one line, not JSON)."""
    k = normalise_answer(answer)
    digest = int.from_bytes(hashlib.blake2b(k.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little")
    return digest, len(k) <= 60 and "\n" not in k and not k.startswith(("{", "["))


def majority_labels(examples: Sequence[Example]) -> MajorityLabels | None:
    """The labels when the answers are labels with a few stray values; None for free text or JSON.

    Unlike labels.label_set this tolerates outliers (the very answers we look for): the repeated short answers
    must cover 90% of the data. Answers are counted by an 8-byte digest in one pass (a counter of the answers
    themselves grows with the rows on free text); the text of a repeated answer is read back from its first row.
    """
    n = len(examples)
    if n < 10:
        return None
    digests, label_like = np.empty(n, np.uint64), np.empty(n, bool)
    for i, ex in enumerate(examples):
        digests[i], label_like[i] = _label_key(ex.answer)
    _, first, inverse, counts = np.unique(digests, return_index=True, return_inverse=True, return_counts=True)
    labels = (counts > 1) & label_like[first]
    if not 2 <= labels.sum() <= 50 or counts[labels].sum() < 0.9 * n:
        return None
    # Most common first, ties in order of first appearance (as Counter.most_common orders them).
    multi = sorted(np.flatnonzero(counts > 1).tolist(), key=lambda u: (-counts[u], first[u]))
    repeated = {normalise_answer(examples[int(first[u])].answer): int(counts[u]) for u in multi}
    return MajorityLabels(repeated, np.flatnonzero(counts[inverse] == 1))


def _json_object(text: str):
    if not text.lstrip(" \t\n\r").startswith("{"):  # not an object: no parse (most label answers)
        return None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _json_outliers(examples: list[Example]) -> list[Finding]:
    # First pass: how many answers are objects and which keys they have; the second names the outliers.
    n = len(examples)
    if n < 5:
        return []
    objects, key_counts = 0, Counter()
    for k, ex in enumerate(examples):
        p = _json_object(ex.answer)
        if p is not None:
            objects += 1
            key_counts.update(p.keys())
        elif k + 1 - objects > n - MAJORITY * n:  # too many non-objects already: not JSON answers (stop reading)
            return []
    if objects < MAJORITY * n:
        return []
    share = objects / n
    common = [k for k, c in key_counts.items() if c >= MAJORITY * objects]
    out = []
    for i, ex in enumerate(examples):
        p = _json_object(ex.answer)
        if p is None:
            out.append(Finding([i], f"line {ex.line}: answer is not a JSON object, while {share:.0%} are: "
                               f"{clip(ex.answer, 50)!r}", [ex.line]))
            continue
        missing = [k for k in common if k not in p]
        lonely = [k for k in p if key_counts[k] == 1 and objects >= 10]
        if missing:
            out.append(Finding([i], f"line {ex.line}: JSON answer lacks key(s) {missing} that "
                               f"{MAJORITY:.0%}+ of answers have", [ex.line], extra={"missing_keys": missing}))
        if lonely:
            out.append(Finding([i], f"line {ex.line}: JSON answer has key(s) {lonely} that no other answer has",
                               [ex.line], extra={"unexpected_keys": lonely}))
    return out


def _label_outliers(examples: list[Example]) -> list[Finding]:
    labels = majority_labels(examples)
    if not labels:
        return []
    known = list(labels.repeated)
    out = []
    for i in labels.once.tolist():  # rows read back one by one: strays are at most a tenth of the rows
        ex = examples[i]
        label = normalise_answer(ex.answer)
        close = difflib.get_close_matches(label, known, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        out.append(Finding([i], f"line {ex.line}: answer {clip(ex.answer, 40)!r} is outside the label set "
                           f"of {len(known)} labels{hint}", [ex.line], extra={"label": label}))
    return out


def structure_outliers(examples: list[Example]) -> list[Finding]:
    return _json_outliers(examples) + _label_outliers(examples)
