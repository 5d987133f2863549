"""Free text: similarity to the reference with maintained implementations (rouge-score, sacrebleu)."""

from __future__ import annotations

from functools import lru_cache

HEADLINE = ("rouge_l", "chrf")


@lru_cache(maxsize=1)
def _rouge():
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)


def similarity(pred: str, ref: str) -> dict:
    """ROUGE-L F-measure and sentence chrF, both on a 0..1 scale."""
    from sacrebleu.metrics import CHRF

    rouge = _rouge().score(ref, pred)["rougeL"].fmeasure
    chrf = CHRF().sentence_score(pred, [ref]).score / 100.0
    return {"rouge_l": rouge, "chrf": chrf}


def score_example(pred: str, ref: str) -> dict:
    return similarity(pred, ref)


def headline(rows: list[dict], labels=None) -> dict[str, float]:
    n = len(rows)
    return {k: (sum(x[k] for x in rows) / n if n else 0.0) for k in HEADLINE}


def summary(rows: list[dict], labels=None) -> dict:
    return headline(rows)
