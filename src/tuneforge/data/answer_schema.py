"""The shape of JSON answers, learned from the training answers: which keys, in which order, of which type.

Training records it in run.json (`data.answer_schema`), so `predict`, `eval` and the server can make an
extraction variant answer with exactly those keys, always as valid JSON (the grammar of
models/answer_grammar.py). Kept in data/ because training, evaluation and serving all read it.
"""

from __future__ import annotations

import json
from pathlib import Path

FORMAT = "json_object"


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


def _kind(value) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return "number"
    return "string" if isinstance(value, str) else "other"


def json_keys(answers: list[str]) -> tuple[list[str], dict[str, str]]:
    """Keys in first-seen order, and each key's type: "string", "number" or "other" (mixed or anything else)."""
    keys: list[str] = []
    kinds: dict[str, set] = {}
    for a in answers:
        obj = parse_json_object(a) or {}
        keys += [k for k in obj if k not in keys]
        for k, v in obj.items():
            kinds.setdefault(k, set()).add(_kind(v))
    return keys, {k: (next(iter(v)) if len(v) == 1 else "other") for k, v in kinds.items()}


def answer_schema(answers: list[str]) -> dict | None:
    """{"type": "json_object", "keys": [...], "key_types": {...}} when every answer is a JSON object, else None."""
    if not answers or any(parse_json_object(a) is None for a in answers):
        return None
    keys, types = json_keys(answers)
    return {"type": FORMAT, "keys": keys, "key_types": types} if keys else None


def run_answer_schema(run: dict | None) -> dict | None:
    """The schema a run recorded; for runs trained before it was recorded, learned again from their data file."""
    data = (run or {}).get("data") or {}
    if "answer_schema" in data:
        return data["answer_schema"]
    path = data.get("path")
    if not path or not Path(path).is_file():
        return None
    from tuneforge.data.formats import load_examples

    config = (run or {}).get("config") or {}
    options = {k: config[k] for k in ("data_format", "input_column", "output_column", "system_prompt") if k in config}
    examples, _ = load_examples(path, **options)
    return answer_schema([e.answer for e in examples])
