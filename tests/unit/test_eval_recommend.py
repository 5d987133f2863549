"""The recommendation paragraph follows the numbers."""

from __future__ import annotations

from tuneforge.eval.recommend import recommendation


def _report(tuned: float, p: float, cost: float | None = None) -> dict:
    def system(kind, acc, tokens_in, latency):
        return {"n": 50, "kind": kind, "metrics": {"accuracy": acc}, "ci": {"accuracy": [acc - 0.1, acc + 0.1]},
                "mean_tokens_in": tokens_in, "latency_p50_s": latency}

    systems = {"base zero-shot": system("zero-shot", 0.40, 60, 0.05),
               "base few-shot similar (k=8)": system("few-shot similar", 0.60, 900, 0.30),
               "fine-tuned": system("variant", tuned, 60, 0.05)}
    if cost is not None:
        systems["endpoint big"] = {**system("endpoint", 0.7, 70, 0.8), "cost_per_1k_requests": cost}
    return {"task": "classification", "config": {"confidence": 0.9}, "systems": systems, "significance": [
        {"a": "fine-tuned", "b": "base few-shot similar (k=8)", "metric": "accuracy", "p_value": p,
         "test": "paired bootstrap"}]}


def test_a_significant_win_recommends_the_variant():
    text = recommendation(_report(0.9, 0.001))
    assert "fine-tuned reaches accuracy 90.0% (90% CI 80.0–100.0%) against 60.0%" in text
    assert "best prompted system, base few-shot similar (k=8) (+30.0 points)" in text
    assert "p = 0.001" in text and "Recommendation: use fine-tuned." in text
    assert "60 input tokens per request instead of 900" in text and "50 ms vs 300 ms" in text


def test_a_thin_or_negative_result_says_so():
    assert "evidence is thin" in recommendation(_report(0.64, 0.4))
    text = recommendation(_report(0.5, 0.2, cost=1.25))
    assert "Recommendation: keep endpoint big" in text  # the hosted model is the best prompted system here
    assert "endpoint big costs 1.25 per 1,000 requests" in text
