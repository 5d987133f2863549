"""Leakage check: held-out inputs that also occur in a variant's training data inflate its score."""

from __future__ import annotations

from tuneforge.data.formats import Example


def _key(text: str) -> str:
    return " ".join(text.split()).casefold()


def overlap(eval_examples: list[Example], train_examples: list[Example]) -> dict:
    seen = {_key(e.user_text) for e in train_examples}
    lines = [e.line for e in eval_examples if _key(e.user_text) in seen]
    return {"overlap": len(lines), "share": len(lines) / len(eval_examples) if eval_examples else 0.0, "lines": lines[:50]}
