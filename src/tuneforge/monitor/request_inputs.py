"""A logged request's input as the monitor counts it: its text, its identity, and the side of the retrain's split
it falls on. Drift, the review queue, the fresh-evidence count and the retrain all read inputs through these, so
they agree on what one input is."""

from __future__ import annotations

import hashlib

from tuneforge.monitor.feedback import request_messages


def input_text(row: dict) -> str:
    """The last user message of a logged request (a completions prompt counts as one)."""
    users = [m["content"] for m in request_messages(row) if m["role"] == "user"]
    return users[-1] if users else ""


def input_key(text: str) -> str:
    """One distinct input: case and spacing do not make a new one (the same key the retrain's split uses)."""
    return " ".join(text.lower().split())


def is_held_out(text: str, share: float) -> bool:
    """A stable split by input: the same input is always on the same side, whatever else was reviewed, so a
    request asked twice is never learnt from and tested on at once (that would be leakage)."""
    key = input_key(text)
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF < share
