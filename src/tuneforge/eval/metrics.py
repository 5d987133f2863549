"""Reading JSON answers: the object in a model's reply (a ```json fence tolerated), and whether references are JSON.

`parse_json_object` lives in data/answer_schema.py (training reads JSON answers too); it is imported here for
the evaluation's readers."""

from __future__ import annotations

from tuneforge.data.answer_schema import parse_json_object


def references_are_json(refs: list[str]) -> bool:
    return bool(refs) and all(parse_json_object(r) is not None for r in refs)
