"""Bootstrap intervals and paired tests."""

from __future__ import annotations

import math

import pytest

from tuneforge.eval.shots import SimilarityIndex
from tuneforge.eval.stats import confidence_intervals, mcnemar_exact, paired_bootstrap, wilson_interval
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


def test_wilson_interval_by_hand_and_pinned_to_the_level():
    # 9 of 12 right: Wilson 95% = [0.4677, 0.9111] (z = 1.959964); a 90% interval would be [0.5127, 0.8953].
    assert wilson_interval(9, 12, 0.95) == pytest.approx([0.46769, 0.91108], abs=1e-4)
    assert wilson_interval(9, 12, 0.90) == pytest.approx([0.51266, 0.89535], abs=1e-4)
    assert wilson_interval(12, 12) == pytest.approx([0.75751, 1.0], abs=1e-4)  # never the point [1, 1]


def test_intervals_use_wilson_for_proportions_and_bca_otherwise():
    rows = [{"correct": float(i < 9), "f": 0.3 + 0.05 * i} for i in range(12)]

    def head(rs):
        return {"accuracy": sum(r["correct"] for r in rs) / len(rs), "f1ish": sum(r["f"] for r in rs) / len(rs) ** 1.1}

    ci, methods = confidence_intervals(rows, head, samples=400, level=0.95, seed=1)
    assert methods == {"accuracy": "Wilson score", "f1ish": "BCa bootstrap"}
    assert ci["accuracy"] == pytest.approx([0.46769, 0.91108], abs=1e-4)  # the level is pinned: 95%, not 90%
    lo, hi = ci["f1ish"]
    assert lo < head(rows)["f1ish"] < hi
    narrow, _ = confidence_intervals(rows, head, samples=400, level=0.80, seed=1)
    assert narrow["f1ish"][1] - narrow["f1ish"][0] < hi - lo
    large = [{"correct": float(i % 2), "f": 0.5} for i in range(400)]
    wide, _ = confidence_intervals(large[:40], head, samples=200, seed=1)
    tight, _ = confidence_intervals(large, head, samples=200, seed=1)
    assert (tight["accuracy"][1] - tight["accuracy"][0]) < (wide["accuracy"][1] - wide["accuracy"][0]) / 2


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


@pytest.mark.parametrize("level, z", [(0.95, 1.960), (0.90, 1.645)])
def test_paired_bootstrap_interval_has_the_asked_level(level, z):
    # 300 paired examples, the first system right on all, the second on 200: each example's delta is 1 or 0 with
    # mean 1/3, so the bootstrap interval of the mean delta is close to 1/3 +- z * sqrt((1/3)(2/3)/300) (0.0272).
    # The 95% and 90% bounds lie 0.0086 apart, twice the tolerance.
    better = [{"correct": 1.0}] * 300
    worse = [{"correct": float(i < 200)} for i in range(300)]
    se = math.sqrt(2 / 9 / 300)
    r = paired_bootstrap(better, worse, _acc, "accuracy", samples=2000, level=level)
    assert r["ci"] == pytest.approx([1 / 3 - z * se, 1 / 3 + z * se], abs=0.004)


def _ex(text, answer="x"):
    return Example([{"role": "user", "content": text}, {"role": "assistant", "content": answer}])


def test_similar_shots_pick_lookalikes_and_skip_the_input_itself():
    pool = [_ex("Rechnung Nr. 17 Bürobedarf GmbH"), _ex("Hotel Amsterdam two nights"), _ex("train ticket Berlin"),
            _ex("Rechnung Nr. 99 Druckerei GmbH")]
    index = SimilarityIndex(pool)
    got = index.nearest("Rechnung Nr. 18 Druckerei GmbH", k=2)
    assert [e.user_text for e in got] == ["Rechnung Nr. 17 Bürobedarf GmbH", "Rechnung Nr. 99 Druckerei GmbH"]
    assert all(e.user_text != "train ticket Berlin" for e in index.nearest("train ticket Berlin", k=3))


def test_a_few_shot_prompt_is_system_then_shots_then_the_question_without_its_answer():
    from tuneforge.eval.shots import few_shot_prompt

    ex = Example([{"role": "system", "content": "S"}, {"role": "user", "content": "dell laptop"},
                  {"role": "assistant", "content": "hardware"}])
    shot = Example([{"role": "user", "content": "klm flight"}, {"role": "assistant", "content": "travel"}])
    assert few_shot_prompt(ex, [shot]) == [
        {"role": "system", "content": "S"}, {"role": "user", "content": "klm flight"},
        {"role": "assistant", "content": "travel"}, {"role": "user", "content": "dell laptop"}]


def test_similar_shots_skip_the_input_whatever_its_case_and_spacing():
    pool = [_ex("Train ticket  Berlin", "travel"), _ex("train ticket munich", "travel"), _ex("dell laptop", "hw")]
    shots = SimilarityIndex(pool).nearest("train ticket berlin", k=3)
    assert [e.user_text for e in shots] == ["dell laptop", "train ticket munich"]  # most similar last


def test_latency_percentiles_are_of_the_examples_latencies():
    from tuneforge.config import EvalConfig
    from tuneforge.eval.compare import summarise_system
    from tuneforge.eval.systems import System
    from tuneforge.eval.generate import Generation
    from tuneforge.eval.task_types import detect_task

    refs = ["travel", "software"] * 3
    spec = detect_task(refs, refs)
    gens = [Generation(r, s, 10, 1) for r, s in zip(refs, (0.1, 0.2, 0.3, 0.4, 0.5, 6.0))]
    rows = [spec.score(g.text, r) for g, r in zip(gens, refs)]
    s = summarise_system(System("m", "variant", "free", []), gens, rows, refs, spec,
                         EvalConfig(model="m", data="d", bootstrap=0))
    # numpy's default percentile: p50 between 0.3 and 0.4, p95 at 4.75 of 5 steps from 0.5 to 6.0.
    assert s["latency_p50_s"] == pytest.approx(0.35) and s["latency_p95_s"] == pytest.approx(4.625)
    assert s["mean_latency_s"] == pytest.approx(7.5 / 6)
