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
    assert "fine-tuned reads 60 input tokens per request against 900 for base few-shot similar (k=8)." in text
    assert "Median latency per example: 50 ms for fine-tuned, 300 ms for base few-shot similar (k=8)." in text


def test_a_thin_or_negative_result_says_so():
    assert "evidence is thin" in recommendation(_report(0.64, 0.4))
    text = recommendation(_report(0.5, 0.2, cost=1.25))
    assert "Recommendation: keep endpoint big" in text  # the hosted model is the best prompted system here
    assert "endpoint big costs 1.25 per 1,000 requests" in text


def _with_classical(report: dict, acc: float, p: float) -> dict:
    name = "tf-idf + logistic regression"
    report["systems"][name] = {"n": 50, "kind": "classical", "metrics": {"accuracy": acc}, "ci": {},
                               "mean_tokens_in": 0, "latency_p50_s": 0.0001,
                               "classical": {"fit_s": 1.2, "predict_ms_per_example": 0.05}}
    report["significance"].append({"a": "fine-tuned", "b": name, "metric": "accuracy", "delta": report["systems"]["fine-tuned"]["metrics"]["accuracy"] - acc,
                                   "p_value": p, "test": "paired bootstrap"})
    return report


def test_a_classical_model_as_good_as_the_variant_is_said_plainly():
    text = recommendation(_with_classical(_report(0.9, 0.001), 0.88, 0.6))
    assert "A classical model is as good as the fine-tuned variant here: tf-idf + logistic regression" in text
    assert "not significantly worse" in text and "trains in 1.2 s and answers in 0.05 ms" in text
    assert "Recommendation: use tf-idf + logistic regression; this task does not need an LLM unless" in text
    assert "Recommendation: use fine-tuned." not in text
    # The best system overall is the variant, named with its kind and its own interval.
    assert "Best system overall: fine-tuned (variant), accuracy 90.0%" in text
    # The variant's savings against prompting name their systems and come before the classical recommendation,
    # so they are not read as the recommended classical model's figures (the demo printed "It also reads 12
    # input tokens per request instead of 333" right after "Recommendation: use embeddings + ...").
    recommended = text.index("Recommendation: use tf-idf")
    assert 0 < text.index("fine-tuned reads 60 input tokens") < recommended
    assert 0 < text.index("Median latency per example: 50 ms for fine-tuned") < recommended


def test_a_tie_with_the_classical_model_has_no_sign_and_one_pair_of_parentheses():
    """The demo's tie printed "(-0.0 points (paired bootstrap p = 1))"."""
    text = recommendation(_with_classical(_report(0.9, 0.001), 0.9, 1.0))
    assert "reaches 90.0% against 90.0% for fine-tuned (0.0 points, paired bootstrap p = 1), so it is not" in text
    assert "-0.0" not in text and "+0.0 points" not in text


def test_a_significantly_better_variant_beats_the_classical_model():
    text = recommendation(_with_classical(_report(0.9, 0.001), 0.7, 0.002))
    assert "fine-tuned beats the best non-LLM baseline, tf-idf + logistic regression, by +20.0 points" in text
    assert "Recommendation: use fine-tuned." in text and "as good as" not in text


def test_a_better_classical_model_is_the_best_system_overall():
    text = recommendation(_with_classical(_report(0.7, 0.01), 0.85, 0.01))
    assert "Best system overall: tf-idf + logistic regression (classical), accuracy 85.0%" in text
    assert "against fine-tuned: +15.0 points, paired bootstrap p = 0.01 (significant)" in text
    assert "Recommendation: use tf-idf + logistic regression" in text


def test_a_higher_score_without_a_significant_test_is_called_level():
    from tuneforge.eval.recommend import verdict

    # The invoice demo: one line of 108 ahead of the embedding classifier is not a win.
    report = _report(0.815, 0.933)
    assert verdict(report, "fine-tuned", "base few-shot similar (k=8)", "accuracy").startswith(
        "is level with (paired bootstrap p = 0.93")
    assert verdict(_report(0.9, 0.001), "fine-tuned", "base few-shot similar (k=8)", "accuracy") == \
        "beats (paired bootstrap p = 0.001)"
    assert verdict(_report(0.4, 0.01), "fine-tuned", "base few-shot similar (k=8)", "accuracy").startswith("trails")
    assert verdict(_report(0.9, 0.001), "fine-tuned", "base zero-shot", "accuracy") == "beats (no paired test)"


def test_a_classification_head_is_not_called_an_llm():
    """The no-flag classification variant is a head over a small sentence encoder: when a classical model is as
    good, the advice is that the task needs no fine-tuned model, not that it needs no LLM."""
    report = _with_classical(_report(0.9, 0.001), 0.88, 0.6)
    report["systems"]["fine-tuned"]["decoding"] = "classify"
    text = recommendation(report)
    assert "Recommendation: use tf-idf + logistic regression; this task does not need a fine-tuned model" in text
    assert "need an LLM" not in text


def test_of_two_variants_the_better_one_is_recommended():
    report = _report(0.6, 0.5)
    report["systems"]["fine-tuned v2"] = {**report["systems"]["fine-tuned"], "metrics": {"accuracy": 0.9},
                                          "ci": {"accuracy": [0.8, 1.0]}}
    report["significance"].append({"a": "fine-tuned v2", "b": "base few-shot similar (k=8)", "metric": "accuracy",
                                   "p_value": 0.001, "test": "paired bootstrap"})
    text = recommendation(report)
    assert "fine-tuned v2 reaches accuracy 90.0%" in text and "Recommendation: use fine-tuned v2." in text


def test_the_constrained_decoding_line_has_the_sign_of_its_gain():
    # A label variant decoded both ways: free 84%, constrained 90%. Whichever of the two is best, the line says
    # what constraining adds to free decoding (+6.0), never the reverse.
    report = _report(0.84, 0.01)
    report["systems"]["fine-tuned (constrained)"] = {**report["systems"]["fine-tuned"], "metrics": {"accuracy": 0.9}}
    assert "Constrained decoding changes fine-tuned's accuracy by +6.0 points." in recommendation(report)
    # An extraction variant: constrained by default under its own name, free decoding named apart.
    report = _report(0.9, 0.01)
    report["systems"]["fine-tuned (free)"] = {**report["systems"]["fine-tuned"], "metrics": {"accuracy": 0.95}}
    assert "Constrained decoding changes fine-tuned (free)'s accuracy by -5.0 points." in recommendation(report)
