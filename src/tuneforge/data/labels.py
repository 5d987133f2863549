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


class LabelTally:
    """label_set's decision over a stream of answers, in bounded memory (at most max_labels + 1 counters)."""

    def __init__(self, max_labels: int = 50):
        self.max_labels, self.n, self.counts, self.free_text = max_labels, 0, Counter(), False

    def add(self, answer: str) -> None:
        self.n += 1
        if self.free_text:
            return
        a = normalise_answer(answer)
        if ("\n" in a) or len(a) > 60 or a.startswith(("{", "[")):
            self.free_text, self.counts = True, Counter()
            return
        self.counts[a] += 1
        if len(self.counts) > self.max_labels:  # too many distinct values ever to be labels
            self.free_text, self.counts = True, Counter()

    def labels(self) -> dict[str, int] | None:
        """label -> count (most common first) when the answers are labels, as label_set decides; else None."""
        counts, n = self.counts, self.n
        if self.free_text or n < 4 or len(counts) < 2 or len(counts) > n / 2:
            return None
        if sum(c for c in counts.values() if c > 1) < 0.8 * n:
            return None
        return dict(counts.most_common())
