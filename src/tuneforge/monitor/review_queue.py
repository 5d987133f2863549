"""The review queue: the logged answers most worth a person's look, first.

Order: answers outside the label set (or invalid JSON), then the lowest-confidence answers, then answers a
second system disagrees with (a TF-IDF nearest-label classifier trained on the variant's training data), then a
uniformly random sample, kept apart and marked, so accuracy measured on it is an unbiased estimate (the other
groups are chosen because they are likely wrong). Answers already reviewed are left out. Plain data in, plain
data out: the terminal flow (`tuneforge review`) and `GET /v1/review/queue` both use `build_queue`.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from pathlib import Path

from tuneforge.data.labels import normalise_answer
from tuneforge.monitor.feedback import response_text
from tuneforge.monitor.reference import Reference

REASONS = ("invalid", "low_confidence", "disagreement", "random")


@dataclass
class ReviewItem:
    request_id: str
    variant: str
    at: str
    input: str
    answer: str | None
    reason: str  # one of REASONS
    confidence: float | None = None
    second_opinion: str | None = None
    labels: list[str] | None = None

    def to_json(self) -> dict:
        return asdict(self)


class SecondOpinion:
    """TF-IDF + logistic regression on the training data: cheap, independent of the LLM, often right."""

    def __init__(self, ref: Reference):
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline

        self.model = None
        if ref.is_classification and ref.train_inputs:
            from tuneforge.data.formats import load_examples

            examples = load_examples(ref.run["data"]["path"])[0]
            y = [normalise_answer(e.answer) for e in examples]
            if len(set(y)) > 1:
                self.model = make_pipeline(TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True),
                                           LogisticRegression(max_iter=2000))
                self.model.fit([e.user_text for e in examples], y)

    def predict(self, texts: list[str]) -> list[str | None]:
        if self.model is None or not texts:
            return [None] * len(texts)
        return list(self.model.predict(texts))


def build_queue(spec: str, limit: int = 20, random_share: float = 0.25, seed: int = 0, path: str | Path | None = None,
                low_confidence: float = 0.6) -> list[ReviewItem]:
    from tuneforge.monitor.reference import load_reference, variant_names
    from tuneforge.monitor.summary import load_rows
    from tuneforge.monitor.traffic_log import MIGRATIONS, traffic_path
    from tuneforge.registry.store import Registry
    from tuneforge.sqlite_db import open_db

    registry = Registry()
    try:
        ref = load_reference(spec, registry)
        names = variant_names(registry, spec)
    finally:
        registry.close()
    conn = open_db(path or traffic_path(), MIGRATIONS)
    try:
        reviewed = {r[0] for r in conn.execute("SELECT DISTINCT request_id FROM feedback")}
        rows = [r for r in load_rows(conn, names) if r["status"] == 200 and r["request_id"] not in reviewed]
    finally:
        conn.close()
    return rank(rows, ref, limit, random_share, seed, low_confidence, SecondOpinion(ref))


def rank(rows: list[dict], ref: Reference, limit: int, random_share: float = 0.25, seed: int = 0,
         low_confidence: float = 0.6, second: SecondOpinion | None = None) -> list[ReviewItem]:
    from tuneforge.monitor.request_inputs import input_text
    from tuneforge.monitor.summary import _valid

    inputs = [input_text(r) for r in rows]
    answers = [response_text(r) for r in rows]
    opinions = second.predict(inputs) if second is not None else [None] * len(rows)

    def item(i: int, reason: str) -> ReviewItem:
        r = rows[i]
        return ReviewItem(r["request_id"], r["variant"], r["at"], inputs[i], answers[i], reason, r.get("confidence"),
                          opinions[i], ref.labels or None)

    n_random = min(len(rows), max(1, round(limit * random_share))) if limit and rows else 0
    rng = random.Random(seed)
    sample = set(rng.sample(range(len(rows)), n_random)) if n_random else set()
    rest = [i for i in range(len(rows)) if i not in sample]
    invalid = [i for i in rest if not _valid(answers[i], ref)]
    confident = sorted((i for i in rest if i not in invalid and rows[i].get("confidence") is not None
                        and rows[i]["confidence"] < low_confidence), key=lambda i: rows[i]["confidence"])
    taken = set(invalid) | set(confident)
    disagree = [i for i in rest if i not in taken and opinions[i] is not None
                and normalise_answer(answers[i] or "") != opinions[i]]
    targeted = [item(i, "invalid") for i in invalid] + [item(i, "low_confidence") for i in confident] + \
        [item(i, "disagreement") for i in disagree]
    return targeted[: max(limit - n_random, 0)] + [item(i, "random") for i in sorted(sample)]
