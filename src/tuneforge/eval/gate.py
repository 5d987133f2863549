"""The promotion gate, the only one: is a candidate better than an incumbent on a metric, by more than a margin,
and (when a confidence is asked for) significantly so?

Direction comes from eval_file.higher_is_better (latency, cost, tokens, loss: lower is better). Significance is a
paired bootstrap over the examples both sides scored (the same inputs in the same order), on the stored score
rows, or on the per-example timings for latency. `tuneforge eval gate`, `tuneforge models promote` and the
retrain policy all call `decide`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tuneforge.errors import UserError
from tuneforge.eval.eval_file import EvalReport, higher_is_better, read_eval

DEFAULT_CONFIDENCE = 0.95


@dataclass
class Side:
    """One system in one eval.json."""

    report: EvalReport
    system: str

    @property
    def source(self) -> str:
        return f"{self.report.source}#{self.system}"

    def value(self, metric: str) -> float:
        return self.report.metric(self.system, metric)


@dataclass
class GateDecision:
    passed: bool
    reason: str
    metric: str
    candidate: float
    incumbent: float
    improvement: float  # positive = candidate better, in the metric's own direction
    min_delta: float
    p_value: float | None
    confidence: float | None

    def summary(self) -> str:
        return ("PASS " if self.passed else "FAIL ") + self.reason


def side(spec: str | Path | Side | EvalReport, system: str | None = None) -> Side:
    """`EVAL.json`, a run folder, either with `#system`, or an already read report; default system: the variant."""
    if isinstance(spec, Side):
        return spec
    if isinstance(spec, EvalReport):
        report = spec
    else:
        path, _, named = str(spec).partition("#")
        report, system = read_eval(path), system or named or None
    chosen = system or report.default_system()
    report.system(chosen)  # refuse an unknown name now, naming the file
    return Side(report, chosen)


def paired_p_value(cand: Side, inc: Side, metric: str, samples: int = 1000, seed: int = 0) -> float | None:
    """Two-sided paired bootstrap p-value when both sides scored the very same examples; else None."""
    from tuneforge.eval.stats import paired_bootstrap

    ex_c, ex_i = cand.report.examples, inc.report.examples
    if not ex_c or len(ex_c) != len(ex_i) or any(a.get("input") != b.get("input") for a, b in zip(ex_c, ex_i)):
        return None
    got_c, got_i = cand.report.example_rows(cand.system, metric), inc.report.example_rows(inc.system, metric)
    if got_c is None or got_i is None:
        return None
    (rows_c, values), (rows_i, _) = got_c, got_i
    return paired_bootstrap(rows_c, rows_i, values, metric, samples, seed=seed)["p_value"]


def decide(candidate, incumbent, metric: str, min_delta: float = 0.0,
           confidence: float | None = DEFAULT_CONFIDENCE, samples: int = 1000, seed: int = 0) -> GateDecision:
    """Pass when the candidate beats the incumbent on `metric` by more than `min_delta` (in the metric's own
    direction) and, unless `confidence` is None or 0, a paired test says so at that confidence.

    `candidate` and `incumbent`: a Side, an EvalReport, or a path to an eval.json / run folder with optional
    `#system`. A candidate that cannot be tested for significance (different examples) is refused."""
    if confidence is not None and not 0 <= confidence < 1:
        raise UserError(f"must be in [0, 1), got {confidence}", field="confidence")
    cand, inc = side(candidate), side(incumbent)
    c, i = cand.value(metric), inc.value(metric)
    higher = higher_is_better(metric)
    improvement = (c - i) if higher else (i - c)
    p = paired_p_value(cand, inc, metric, samples, seed) if samples else None
    passed = improvement > min_delta
    why = (f"{cand.source} vs {inc.source}: {metric} {c:.4g} vs {i:.4g} ({'higher' if higher else 'lower'} is "
           f"better), improvement {improvement:+.4g}, required more than {min_delta:+.4g}")
    if p is not None:
        why += f", paired bootstrap p = {p:.3g}"
    if confidence:
        if p is None:
            passed = False
            why += "; not significant: the two sides were not scored on the same examples, so no paired test"
        elif p >= 1 - confidence:
            passed = False
            why += f"; not significant at {confidence:.0%} confidence (p >= {1 - confidence:.3g})"
    return GateDecision(passed, why, metric, c, i, improvement, min_delta, p, confidence or None)


def best_baseline(report: EvalReport, metric: str) -> str | None:
    """The prompted system that scored best on `metric` (in its direction), or None when eval ran without any."""
    names = report.prompted_systems()
    if not names:
        return None
    sign = 1 if higher_is_better(metric) else -1
    return max(names, key=lambda n: sign * report.metric(n, metric))


def default_metric(report: EvalReport) -> str:
    """The task's first headline metric (accuracy for classification)."""
    return (report.raw.get("headline_metrics") or ["accuracy"])[0]
