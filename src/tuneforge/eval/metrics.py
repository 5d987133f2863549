"""Task metrics on (prediction, reference) pairs. Pure Python so each number can be checked by hand."""

from __future__ import annotations

from collections import defaultdict

from tuneforge.data.answer_schema import parse_json_object
from tuneforge.data.labels import normalise_answer


def exact_match(pred: str, ref: str) -> bool:
    return normalise_answer(pred) == normalise_answer(ref)


def references_are_json(refs: list[str]) -> bool:
    return bool(refs) and all(parse_json_object(r) is not None for r in refs)


def summarise(preds: list[str], refs: list[str], labels: list[str] | None, latencies: list[float]) -> dict:
    n = len(refs)
    em = [exact_match(p, r) for p, r in zip(preds, refs)]
    out: dict = {"n": n, "exact_match": sum(em) / n if n else 0.0}
    if labels:
        label_set = set(labels)
        out["valid_label_rate"] = sum(normalise_answer(p) in label_set for p in preds) / n if n else 0.0
        per: dict[str, list[bool]] = defaultdict(list)
        for ok, r in zip(em, refs):
            per[normalise_answer(r)].append(ok)
        out["per_label_accuracy"] = {k: sum(v) / len(v) for k, v in sorted(per.items())}
    if references_are_json(refs):
        out["valid_json_rate"] = sum(parse_json_object(p) is not None for p in preds) / n if n else 0.0
    out["mean_latency_s"] = sum(latencies) / len(latencies) if latencies else 0.0
    return out
