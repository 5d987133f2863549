"""Recognise when answers are labels (a classification task), so splits stratify and eval scores per label."""

from __future__ import annotations

from collections import Counter

from tuneforge.data.normalise import normalise_answer


def label_set(answers: list[str], max_labels: int = 50) -> list[str] | None:
    """The sorted label set if the answers look like labels, else None.

    Labels: short one-line answers, few distinct values, and most values repeat. Free text and JSON fail these.
    """
    if len(answers) < 4:
        return None
    norm = [normalise_answer(a) for a in answers]
    if any(("\n" in a) or len(a) > 60 or a.startswith(("{", "[")) for a in norm):
        return None
    counts = Counter(norm)
    if len(counts) < 2 or len(counts) > max_labels or len(counts) > len(norm) / 2:
        return None
    repeated = sum(c for c in counts.values() if c > 1)
    if repeated < 0.8 * len(norm):
        return None
    return sorted(counts)
