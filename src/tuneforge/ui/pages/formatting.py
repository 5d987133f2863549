"""Numbers as the pages show them (shared by the Compare, Deploy, Review and Monitor templates as `fmt`)."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from tuneforge.milliseconds import milliseconds

_EVAL_SIDE = re.compile(r"\S+?\.json#")  # an eval.json path before the system it names (eval/gate.py's sides)
REASONS = {  # why the review queue picked an item (monitor/review_queue.REASONS), in words
    "invalid": "Outside the label set or not valid",
    "low_confidence": "Low confidence",
    "disagreement": "A second opinion disagrees",
    "random": "Random sample (keeps the measured accuracy honest)",
}


def pct(x) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def pct_ci(x, ci, level: float = 0.95) -> str:
    """`73.3% (95% CI 48.0–89.1%)`, or just the value when there is no interval."""
    if x is None:
        return "–"
    if not ci or ci[0] is None:
        return pct(x)
    return f"{pct(x)} ({100 * level:.0f}% CI {100 * ci[0]:.1f}–{100 * ci[1]:.1f}%)"


def num(x, digits: int = 3) -> str:
    return "–" if x is None else f"{x:.{digits}g}"


def ms(x) -> str:
    return "–" if x is None else f"{milliseconds(x)} ms"


def when(value) -> str:
    """An ISO time or epoch seconds as `2026-11-29 12:34 UTC`."""
    if value is None:
        return "–"
    if isinstance(value, (int, float)):
        value = datetime.fromtimestamp(value, timezone.utc)
    else:
        value = datetime.fromisoformat(value)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def reason(code: str) -> str:
    return REASONS.get(code, code)


def gate_text(text: str | None) -> str:
    """The gate's reason as a person reads it: `/srv/.../eval.json#fine-tuned vs ...` -> `fine-tuned vs ...` (the
    evaluation files are the server's business; the systems compared are what matters here)."""
    return _EVAL_SIDE.sub("", text or "")
