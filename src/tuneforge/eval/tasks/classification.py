"""Classification: answers are labels from a small set."""

from __future__ import annotations

from tuneforge.data.normalise import normalise_answer

HEADLINE = ("accuracy", "macro_f1", "out_of_label_share")


def score_example(pred: str, ref: str, labels: list[str]) -> dict:
    p, r = normalise_answer(pred), normalise_answer(ref)
    return {"pred": p, "ref": r, "correct": float(p == r), "in_label_set": float(p in set(labels))}


def per_class(rows: list[dict], labels: list[str]) -> dict[str, dict]:
    """Precision, recall, F1 and support for every label (answers outside the set count as wrong)."""
    out = {}
    for lab in labels:
        tp = sum(1 for x in rows if x["pred"] == lab and x["ref"] == lab)
        predicted = sum(1 for x in rows if x["pred"] == lab)
        support = sum(1 for x in rows if x["ref"] == lab)
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out[lab] = {"precision": precision, "recall": recall, "f1": f1, "support": support}
    return out


def headline(rows: list[dict], labels: list[str]) -> dict[str, float]:
    n = len(rows)
    # Macro-F1 over the labels that occur in the references: a class absent from the test set has no recall.
    present = sorted({x["ref"] for x in rows})
    classes = per_class(rows, present)
    return {
        "accuracy": sum(x["correct"] for x in rows) / n if n else 0.0,
        "macro_f1": sum(c["f1"] for c in classes.values()) / len(classes) if classes else 0.0,
        "out_of_label_share": sum(1 - x["in_label_set"] for x in rows) / n if n else 0.0,
    }


def confusion_matrix(rows: list[dict], labels: list[str]) -> dict:
    """Counts[reference][prediction]; predictions outside the label set are pooled as "(other)"."""
    cols = list(labels) + ["(other)"]
    counts = {r: {c: 0 for c in cols} for r in labels}
    for x in rows:
        if x["ref"] not in counts:
            continue
        counts[x["ref"]][x["pred"] if x["pred"] in counts[x["ref"]] else "(other)"] += 1
    return {"labels": list(labels), "columns": cols, "counts": [[counts[r][c] for c in cols] for r in labels]}


def summary(rows: list[dict], labels: list[str]) -> dict:
    return {
        **headline(rows, labels),
        "per_class": per_class(rows, labels),
        "confusion": confusion_matrix(rows, labels),
    }
