"""Text normalisation, the one place: the comparison forms that decide when two texts, answers or values are
"the same". Each form says what does not count.

- `squash`: spacing and case (leakage keys, few-shot self-matches, JSON field values).
- `normalise_answer`: spacing, case, surrounding quotes and a final full stop (labels, exact match).
- `normalise_text`: also Unicode compatibility forms and punctuation (duplicates, near-duplicate shingles).
"""

from __future__ import annotations

import re
import unicodedata

_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


def squash(text: str) -> str:
    """Runs of whitespace become one space, case is folded."""
    return " ".join(text.split()).casefold()


def normalise_answer(text: str) -> str:
    """Comparison form of an answer: case, surrounding quotes/punctuation and spacing do not count."""
    t = squash(text).strip("\"'`")
    return t.rstrip(".!").strip()


def normalise_text(text: str) -> str:
    """Comparison form: Unicode-normalised, case-folded, punctuation and spacing reduced to single spaces."""
    t = unicodedata.normalize("NFKC", text).casefold()
    return _NON_WORD.sub(" ", t).strip()
