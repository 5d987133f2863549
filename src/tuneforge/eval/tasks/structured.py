"""Structured text: answers in a house format (fixed sections in a fixed order, a length limit).

Format adherence is checked line by line: a section heading is a Markdown heading (`## Skills`) or a short
title followed by a colon (`Skills:` or `Skills: Python, SQL`). Similarity to the reference comes on top.
"""

from __future__ import annotations

import re
from collections import Counter

from tuneforge.eval.tasks.text import similarity

HEADLINE = ("format_ok", "sections_in_order", "rouge_l", "chrf")
_TITLE_COLON = re.compile(r"^([A-Za-z][\w &/\-]{0,40}):(\s|$)")


def heading_title(line: str) -> str | None:
    s = line.strip()
    if s.startswith("#"):
        t = s.lstrip("#").strip().strip("*").strip().rstrip(":").strip()
        return t.casefold() or None
    s = s.strip("*").replace("**", "").strip()
    m = _TITLE_COLON.match(s)
    if m and len(m.group(1).split()) <= 4:
        return m.group(1).strip().casefold()
    return None


def headings(text: str) -> list[str]:
    return [t for t in (heading_title(line) for line in text.splitlines()) if t]


def infer_format(refs: list[str], share: float = 0.8) -> list[str] | None:
    """The section sequence that most references follow, if at least `share` of them do and it has 2+ sections."""
    seqs = Counter(tuple(headings(r)) for r in refs)
    if not seqs:
        return None
    best, count = seqs.most_common(1)[0]
    if len(best) >= 2 and count >= share * len(refs):
        return list(best)
    return None


def score_example(pred: str, ref: str, sections: list[str], max_words: int | None) -> dict:
    found = headings(pred)
    wanted = [s.casefold() for s in sections]
    positions = [found.index(s) if s in found else None for s in wanted]
    present = [p is not None for p in positions]
    seen = [p for p in positions if p is not None]
    in_order = all(present) and seen == sorted(seen)
    words = len(pred.split())
    within = max_words is None or words <= max_words
    return {
        "sections_present": sum(present) / len(wanted) if wanted else 1.0,
        "sections_in_order": float(in_order),
        "within_length": float(within),
        "format_ok": float(in_order and within),
        "words": words,
        "missing_sections": [s for s, ok in zip(sections, present) if not ok],
        **similarity(pred, ref),
    }


def headline(rows: list[dict], labels=None) -> dict[str, float]:
    n = len(rows)
    keys = ("format_ok", "sections_in_order", "sections_present", "within_length", "rouge_l", "chrf")
    return {k: (sum(x[k] for x in rows) / n if n else 0.0) for k in keys}


def summary(rows: list[dict], labels=None) -> dict:
    missing: dict[str, int] = {}
    for x in rows:
        for s in x["missing_sections"]:
            missing[s] = missing.get(s, 0) + 1
    return {**headline(rows), "missing_sections": missing}
