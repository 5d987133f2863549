"""Extraction: answers are JSON objects; scored per field on normalised values."""

from __future__ import annotations

import json
import re

from tuneforge.data.normalise import squash
from tuneforge.eval.metrics import parse_json_object

HEADLINE = ("exact_match", "field_f1", "valid_json")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def normalise_value(v):
    """Comparison form of a field value: case and spacing of text do not count; 119 == 119.0 == "119.00"."""
    if v is None:
        return None
    if isinstance(v, bool):
        return str(v).casefold()
    if isinstance(v, (int, float)):
        return round(float(v), 6)
    if isinstance(v, str):
        t = squash(v)
        return round(float(t), 6) if _NUMBER.match(t) else t
    return json.dumps(v, sort_keys=True, ensure_ascii=False).casefold()


def _prf(tp: int, fp: int, fn: int) -> dict:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def score_example(pred: str, ref: str) -> dict:
    """A wrong value counts twice, as in field-level NER scoring: a false positive and a false negative."""
    want = parse_json_object(ref) or {}
    got = parse_json_object(pred)
    valid = got is not None
    got = got or {}
    fields = {}
    for key in list(want) + [k for k in got if k not in want]:
        same = key in want and key in got and normalise_value(want[key]) == normalise_value(got[key])
        fields[key] = {
            "tp": int(same),
            "fp": int(key in got and not same),
            "fn": int(key in want and not same),
        }
    exact = valid and set(want) == set(got) and all(f["tp"] for f in fields.values())
    return {
        "valid": float(valid),
        "exact": float(exact),
        "fields": fields,
        "missing": [k for k in want if k not in got] if valid else [],
        "extra": [k for k in got if k not in want],
    }


def headline(rows: list[dict], labels=None) -> dict[str, float]:
    n = len(rows)
    tp = sum(f["tp"] for x in rows for f in x["fields"].values())
    fp = sum(f["fp"] for x in rows for f in x["fields"].values())
    fn = sum(f["fn"] for x in rows for f in x["fields"].values())
    micro = _prf(tp, fp, fn)
    return {
        "exact_match": sum(x["exact"] for x in rows) / n if n else 0.0,
        "field_f1": micro["f1"],
        "field_precision": micro["precision"],
        "field_recall": micro["recall"],
        "valid_json": sum(x["valid"] for x in rows) / n if n else 0.0,
    }


def per_field(rows: list[dict]) -> dict[str, dict]:
    """P/R/F1 for every key the references hold; keys only a prediction invents are counted in extra_keys."""
    keys: list[str] = []
    for x in rows:
        keys += [k for k, f in x["fields"].items() if k not in keys and f["tp"] + f["fn"] > 0]
    out = {}
    for k in keys:
        counts = [x["fields"][k] for x in rows if k in x["fields"]]
        out[k] = _prf(sum(c["tp"] for c in counts), sum(c["fp"] for c in counts), sum(c["fn"] for c in counts))
    return out


def summary(rows: list[dict], labels=None) -> dict:
    missing: dict[str, int] = {}
    extra: dict[str, int] = {}
    for x in rows:
        for k in x["missing"]:
            missing[k] = missing.get(k, 0) + 1
        for k in x["extra"]:
            extra[k] = extra.get(k, 0) + 1
    n = len(rows)
    return {
        **headline(rows),
        "per_field": per_field(rows),
        "missing_keys": missing,
        "extra_keys": extra,
        "examples_with_missing_keys": sum(bool(x["missing"]) for x in rows) / n if n else 0.0,
        "examples_with_extra_keys": sum(bool(x["extra"]) for x in rows) / n if n else 0.0,
    }
