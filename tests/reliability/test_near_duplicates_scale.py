"""Issue 12 defect 6: near-duplicate search stays linear when thousands of rows are alike (one invoice template),
where candidate pairs once grew with the square of an LSH bucket (20,000 similar rows: 4 minutes)."""

from __future__ import annotations

import random

from tuneforge.data import similarity
from tuneforge.data.similarity import groups, similar_pairs

VENDORS = ["Adobe", "Microsoft", "GitHub", "Slack", "Atlassian"]


def _templated(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [f"{rng.choice(VENDORS)} invoice {rng.randint(1, 99_999)} licence renewal for the team plan, billed yearly"
            for _ in range(n)]


def test_exact_similarity_checks_grow_linearly_with_similar_rows(monkeypatch):
    calls = {"n": 0}
    real = similarity.jaccard

    def counted(a, b):
        calls["n"] += 1
        return real(a, b)

    monkeypatch.setattr(similarity, "jaccard", counted)
    per_row = []
    for n in (1000, 4000):
        calls["n"] = 0
        pairs = similar_pairs(_templated(n), 0.8)
        per_row.append(calls["n"] / n)
        assert len(groups(n, pairs)) <= 0.05 * n  # the near-copies are found: a few large groups, not n singletons
    # All pairs inside a bucket would be ~n/10 checks per row here (and 4x more at 4x the rows).
    assert per_row[1] < 40 and per_row[1] < 1.5 * per_row[0], per_row


def test_small_data_keeps_every_pair():
    texts = ["alpha beta gamma delta", "alpha beta gamma delta!", "zeta eta theta iota kappa",
             "Alpha Beta Gamma Delta.", "zeta eta theta iota kappa lambda"]
    found = {(i, j) for i, j, _ in similar_pairs(texts, 0.8)}
    assert found == {(0, 1), (0, 3), (1, 3)}
