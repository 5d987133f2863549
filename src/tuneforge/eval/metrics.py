"""Reading JSON answers: the object in a model's reply (a ```json fence tolerated), and whether references are JSON."""

from __future__ import annotations

import json


def parse_json_object(text: str):
    """The JSON object in `text` (tolerating a ```json fence), or None."""
    t = text.strip()
    if t.startswith("```"):
        t = t.strip("`")
        t = t[4:] if t.lower().startswith("json") else t
    try:
        value = json.loads(t)
    except (json.JSONDecodeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def references_are_json(refs: list[str]) -> bool:
    return bool(refs) and all(parse_json_object(r) is not None for r in refs)
