"""The recommendation paragraph: what the numbers in an eval.json say to do, in plain words."""

from __future__ import annotations

from tuneforge.milliseconds import milliseconds


def headline_metric(report: dict) -> str:
    first = next(iter(report["systems"].values()))
    return next(iter(first["metrics"]))


def _pts(x: float) -> str:
    points = round(100 * x, 1)
    return f"{points:+.1f} points" if points else "0.0 points"  # a tie is neither +0.0 nor -0.0


def _best(systems: dict, names: list[str], metric: str) -> str | None:
    return max(names, key=lambda n: systems[n]["metrics"][metric]) if names else None


def _interval(s: dict, metric: str, level: float = 0.95) -> str:
    ci = s.get("ci", {}).get(metric)
    return f" ({100 * level:.0f}% CI {100 * ci[0]:.1f}–{100 * ci[1]:.1f}%)" if ci else ""


def _test(report: dict, a: str, b: str, metric: str) -> dict | None:
    return next((t for t in report.get("significance", [])
                 if t["a"] == a and t["b"] == b and t["metric"] == metric), None)


def verdict(report: dict, a: str, b: str, metric: str, alpha: float = 0.05) -> str:
    """"beats", "is level with" or "trails", and the paired test behind it: a higher headline metric alone is not
    a win (on the invoice demo the variant led the embedding classifier by one line of 108, p = 0.93)."""
    diff = report["systems"][a]["metrics"][metric] - report["systems"][b]["metrics"][metric]
    test = _test(report, a, b, metric)
    if test is None:
        return ("beats" if diff > 0 else "does not beat") + " (no paired test)"
    if test["p_value"] >= alpha:
        return f"is level with (paired bootstrap p = {test['p_value']:.2g}, not significant)"
    return ("beats" if diff > 0 else "trails") + f" (paired bootstrap p = {test['p_value']:.2g})"


def recommendation(report: dict, alpha: float = 0.05) -> str:
    systems = report["systems"]
    metric = headline_metric(report)
    level = report.get("config", {}).get("confidence", 0.95)
    variants = [n for n, s in systems.items() if s.get("kind") == "variant"]
    prompted = [n for n, s in systems.items() if s.get("kind") not in ("variant", "classical")]
    classical = [n for n, s in systems.items() if s.get("kind") == "classical"]
    n = next(iter(systems.values()))["n"]
    best_v, best_b = _best(systems, variants, metric), _best(systems, prompted, metric)
    parts: list[str] = []
    if best_v is None and best_b is None:
        return _overall(report, metric, level, alpha, None)
    if best_v is None:
        s = systems[best_b]
        text = (f"Only prompted systems were evaluated{' beside the non-LLM baselines' if classical else ''}. "
                f"The best prompted system is {best_b} with {metric} "
                f"{100 * s['metrics'][metric]:.1f}%{_interval(s, metric, level)} on {n} examples; "
                "fine-tune a variant and evaluate it here to see whether it beats prompting.")
        return text + (" " + _overall(report, metric, level, alpha, None) if classical else "")
    v = systems[best_v]
    if best_b is None:
        parts.append(f"{best_v} reaches {metric} {100 * v['metrics'][metric]:.1f}%{_interval(v, metric, level)} "
                     f"on {n} examples; no prompted baseline was run to compare it with.")
        if classical:
            parts.append(_overall(report, metric, level, alpha, best_v))
        return " ".join(parts)
    b = systems[best_b]
    delta = v["metrics"][metric] - b["metrics"][metric]
    test = _test(report, best_v, best_b, metric)
    parts.append(
        f"On {n} held-out {report['task']} examples, {best_v} reaches {metric} "
        f"{100 * v['metrics'][metric]:.1f}%{_interval(v, metric, level)} against "
        f"{100 * b['metrics'][metric]:.1f}%{_interval(b, metric, level)} for the best prompted system, {best_b} "
        f"({_pts(delta)})."
    )
    significant = test is not None and test["p_value"] < alpha
    if test is not None:
        parts.append(f"A {test['test']} gives p = {test['p_value']:.3g}, so the difference is "
                     f"{'' if significant else 'not '}statistically significant at {alpha:g}.")
    parts += _serving_cost(best_v, v, best_b, b)
    verdict = _classical_verdict(report, best_v, classical, metric, level, alpha)
    parts += verdict
    if any(v.startswith("Recommendation:") for v in verdict):
        pass  # a classical model as good as the variant: that is the recommendation
    elif delta > 0 and (significant or test is None):
        parts.append(f"Recommendation: use {best_v}.")
    elif delta > 0:
        parts.append(f"Recommendation: {best_v} looks better but the evidence is thin; evaluate on more "
                     "examples before switching.")
    else:
        parts.append(f"Recommendation: keep {best_b}; the fine-tuned variant does not beat it yet (more or "
                     "cleaner training data, or more epochs, may change that).")
    costed = {k: s for k, s in systems.items() if s.get("cost_per_1k_requests") is not None}
    for name, s in costed.items():
        parts.append(f"{name} costs {s['cost_per_1k_requests']:.2f} per 1,000 requests at the given price, "
                     f"with {metric} {100 * s['metrics'][metric]:.1f}%.")
    free_name = best_v.removesuffix(" (constrained)").removesuffix(" (free)")
    cons_name = f"{free_name} (constrained)"
    if f"{free_name} (free)" in systems:  # an extraction variant: constrained by default, free decoding apart
        free_name, cons_name = f"{free_name} (free)", free_name
    if free_name in systems and cons_name in systems:
        d = systems[cons_name]["metrics"][metric] - systems[free_name]["metrics"][metric]
        parts.append(f"Constrained decoding changes {free_name}'s {metric} by {_pts(d)}.")
    leaks = {k: x for k, x in report.get("leakage", {}).items() if x.get("overlap")}
    for name, x in leaks.items():
        parts.append(f"Warning: {x['overlap']} held-out inputs also occur in {name}'s training data, so its "
                     "score is inflated.")
    return " ".join(parts)


def _serving_cost(best_v: str, v: dict, best_b: str, b: dict) -> list[str]:
    """What the variant saves against the best prompted system, each figure with its system's name: the paragraph
    may go on to recommend a classical model, so an unnamed "it" would read as that model's figures."""
    parts = []
    ti, bi = v["mean_tokens_in"], b["mean_tokens_in"]
    if bi > 1.5 * ti:
        parts.append(f"{best_v} reads {ti:.0f} input tokens per request against {bi:.0f} for {best_b}.")
    lv, lb = v.get("latency_p50_s"), b.get("latency_p50_s")
    if lv and lb:
        parts.append(f"Median latency per example: {milliseconds(1000 * lv)} ms for {best_v}, "
                     f"{milliseconds(1000 * lb)} ms for {best_b}.")
    return parts


def _overall(report: dict, metric: str, level: float, alpha: float, against: str | None) -> str:
    """The best system of all, and its paired test against the variant `against`."""
    systems = report["systems"]
    best = max(systems, key=lambda k: systems[k]["metrics"][metric])
    s = systems[best]
    text = (f"Best system overall: {best} ({s.get('kind')}), {metric} {100 * s['metrics'][metric]:.1f}%"
            f"{_interval(s, metric, level)}")
    test = _test(report, against, best, metric) if against and against != best else None
    if test is not None:
        text += (f"; against {against}: {_pts(-test['delta'])}, {test['test']} p = {test['p_value']:.3g}"
                 f"{' (significant)' if test['p_value'] < alpha else ' (not significant)'}")
    return text + "."


def _classical_verdict(report: dict, best_v: str, classical: list[str], metric: str, level: float,
                       alpha: float) -> list[str]:
    """Sentences on the best non-LLM baseline against the variant; a recommendation when it is as good.

    "As good" means not significantly worse in the paired test on the same examples: a business then does not
    need the fine-tuned model (or the LLM) for this task, and should hear so plainly. Empty when there is no
    baseline or the variant wins.
    """
    if not classical:
        return []
    systems = report["systems"]
    best_c = _best(systems, classical, metric)
    v, c = systems[best_v], systems[best_c]
    gap = v["metrics"][metric] - c["metrics"][metric]  # the variant minus the classical model
    test = _test(report, best_v, best_c, metric)
    timing = c.get("classical", {})
    cost = (f"; it trains in {timing['fit_s']:.1f} s and answers in {milliseconds(timing['predict_ms_per_example'])} "
            "ms per example on a CPU" if "fit_s" in timing and "predict_ms_per_example" in timing else "")
    test_text = f"{test['test']} p = {test['p_value']:.3g}" if test else ""
    p_text = f" ({test_text})" if test else ""
    tested = f", {test_text}" if test else ""  # inside the parentheses of the gap
    overall = _overall(report, metric, level, alpha, best_v)
    if gap > 0 and test is not None and test["p_value"] < alpha:
        return [overall, f"{best_v} beats the best non-LLM baseline, {best_c}, by {_pts(gap)}{p_text}, "
                f"significant at {alpha:g}."]
    if gap > 0 and test is None:
        return [overall, f"{best_v} is ahead of the best non-LLM baseline, {best_c}, by {_pts(gap)} (untested)."]
    return [overall, f"A classical model is as good as the fine-tuned variant here: {best_c} reaches "
            f"{100 * c['metrics'][metric]:.1f}% against {100 * v['metrics'][metric]:.1f}% for {best_v} "
            f"({_pts(-gap)}{tested}), so it is not significantly worse{cost}.",
            f"Recommendation: use {best_c}; this task does not need {_what_it_spares(v)} unless the variant "
            "improves."]


def _what_it_spares(variant: dict) -> str:
    """What choosing the classical model does without. A classification variant is a head over a fine-tuned
    model, often a small sentence encoder (the no-flag default), not an LLM that writes its answer: "does not
    need an LLM" would misname it."""
    return "a fine-tuned model" if variant.get("decoding") == "classify" else "an LLM"
