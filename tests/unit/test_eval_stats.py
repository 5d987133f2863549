"""Bootstrap intervals and paired tests."""

from __future__ import annotations

import pytest

from tuneforge.eval.shots import SimilarityIndex
from tuneforge.eval.stats import bootstrap_ci, mcnemar_exact, paired_bootstrap
from tuneforge.data.formats import Example


def _acc(rows):
    return {"accuracy": sum(r["correct"] for r in rows) / len(rows)}


def test_mcnemar_by_hand():
    # a right & b wrong on 5 examples, the reverse on 1: p = 2 * P(X <= 1), X ~ Bin(6, 1/2) = 2 * 7/64
    a = [True] * 5 + [False] + [True] * 10
    b = [False] * 5 + [True] + [True] * 10
    r = mcnemar_exact(a, b)
    assert (r["a_only"], r["b_only"]) == (5, 1)
    assert r["p_value"] == pytest.approx(2 * 7 / 64)
    assert mcnemar_exact(a, a)["p_value"] == 1.0


def test_bootstrap_interval_covers_and_narrows():
    small = [{"correct": float(i % 2)} for i in range(40)]
    large = [{"correct": float(i % 2)} for i in range(400)]
    ci_small = bootstrap_ci(small, _acc, samples=400, seed=1)["accuracy"]
    ci_large = bootstrap_ci(large, _acc, samples=400, seed=1)["accuracy"]
    assert ci_small[0] < 0.5 < ci_small[1]
    assert ci_large[0] < 0.5 < ci_large[1]
    assert (ci_large[1] - ci_large[0]) < (ci_small[1] - ci_small[0]) / 2  # ~1/sqrt(10) as wide
    # Binomial standard error at n=40 is 0.079, so a 95% interval is about +-0.155.
    assert 0.2 < ci_small[1] - ci_small[0] < 0.42
    assert bootstrap_ci([{"correct": 1.0}] * 10, _acc, samples=50)["accuracy"] == [1.0, 1.0]


def test_paired_bootstrap():
    better = [{"correct": 1.0}] * 30
    worse = [{"correct": float(i < 10)} for i in range(30)]
    r = paired_bootstrap(better, worse, _acc, "accuracy", samples=500)
    assert r["delta"] == pytest.approx(20 / 30)
    assert r["p_value"] < 0.01 and r["ci"][0] > 0.4
    same = paired_bootstrap(worse, worse, _acc, "accuracy", samples=200)
    assert same["delta"] == 0 and same["p_value"] == 1.0
    with pytest.raises(ValueError, match="same examples"):
        paired_bootstrap(better, worse[:3], _acc, "accuracy")


def _ex(text, answer="x"):
    return Example([{"role": "user", "content": text}, {"role": "assistant", "content": answer}])


def test_similar_shots_pick_lookalikes_and_skip_the_input_itself():
    pool = [_ex("Rechnung Nr. 17 Bürobedarf GmbH"), _ex("Hotel Amsterdam two nights"), _ex("train ticket Berlin"),
            _ex("Rechnung Nr. 99 Druckerei GmbH")]
    index = SimilarityIndex(pool)
    got = index.nearest("Rechnung Nr. 18 Druckerei GmbH", k=2)
    assert [e.user_text for e in got] == ["Rechnung Nr. 17 Bürobedarf GmbH", "Rechnung Nr. 99 Druckerei GmbH"]
    assert all(e.user_text != "train ticket Berlin" for e in index.nearest("train ticket Berlin", k=3))
