"""Regression gate: is the candidate better than the incumbent on a metric, by at least a margin?

Each side is `EVAL.json#system`, a run folder holding eval.json (optionally `#system`), or a system name when
both live in one eval.json (`--report`). With the same examples on both sides a paired bootstrap says how sure.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from tuneforge.eval.recommend import LOWER_IS_BETTER
from tuneforge.eval.stats import paired_bootstrap
from tuneforge.eval.systems import PRIMARY
from tuneforge.eval.task_types import TaskSpec


@dataclass
class Side:
    report: dict
    system: str
    source: str


@dataclass
class GateResult:
    passed: bool
    metric: str
    candidate: float
    incumbent: float
    improvement: float  # positive = candidate better, in the metric's own direction
    min_delta: float
    p_value: float | None
    message: str


def load_report(path: str | Path) -> dict:
    p = Path(path)
    if p.is_dir():
        p = p / "eval.json"
    if not p.is_file():
        raise FileNotFoundError(f"{path}: no eval.json there (run `tuneforge eval` first)")
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{p}: not valid JSON: {err}") from None


def resolve_side(spec: str, shared: dict | None, shared_path: str | None) -> Side:
    if shared is not None:
        return Side(shared, spec, f"{shared_path}#{spec}")
    path, _, system = spec.partition("#")
    report = load_report(path)
    if not system:
        variants = [n for n, s in report["systems"].items() if s.get("kind") == "variant"]
        system = PRIMARY if PRIMARY in report["systems"] else (variants[0] if variants else "")
    return Side(report, system, f"{path}#{system}")


def metric_value(side: Side, metric: str) -> float:
    systems = side.report["systems"]
    if side.system not in systems:
        raise ValueError(f"{side.source}: no system {side.system!r}; have {', '.join(systems)}")
    s = systems[side.system]
    if metric in s.get("metrics", {}):
        return float(s["metrics"][metric])
    if isinstance(s.get(metric), (int, float)):
        return float(s[metric])
    known = list(s.get("metrics", {})) + [k for k, v in s.items() if isinstance(v, (int, float))]
    raise ValueError(f"--metric: {side.source} has no metric {metric!r}; choose from {', '.join(known)}")


def _paired_p(cand: Side, inc: Side, metric: str, samples: int, seed: int) -> float | None:
    """Paired test when both sides scored the very same examples on a headline metric; else None."""
    ex_c, ex_i = cand.report.get("examples", []), inc.report.get("examples", [])
    if not ex_c or len(ex_c) != len(ex_i) or any(a["input"] != b["input"] for a, b in zip(ex_c, ex_i)):
        return None
    try:
        rows_c = [e["scores"][cand.system] for e in ex_c]
        rows_i = [e["scores"][inc.system] for e in ex_i]
    except KeyError:
        return None
    spec = TaskSpec(**cand.report["task_spec"])
    if metric not in spec.headline_values(rows_c[:1]):
        return None
    return paired_bootstrap(rows_c, rows_i, spec.headline_values, metric, samples, seed=seed)["p_value"]


def run_gate(
    candidate: str, incumbent: str, metric: str, min_delta: float = 0.0, report: str | None = None,
    alpha: float | None = None, samples: int = 1000, seed: int = 0,
) -> GateResult:
    shared = load_report(report) if report else None
    cand, inc = resolve_side(candidate, shared, report), resolve_side(incumbent, shared, report)
    c, i = metric_value(cand, metric), metric_value(inc, metric)
    lower_better = any(word in metric for word in LOWER_IS_BETTER)
    improvement = (i - c) if lower_better else (c - i)
    p = _paired_p(cand, inc, metric, samples, seed) if samples else None
    passed = improvement > min_delta
    why = f"{metric}: candidate {c:.4g} vs incumbent {i:.4g} ({'lower' if lower_better else 'higher'} is better), " \
          f"improvement {improvement:+.4g}, required more than {min_delta:+.4g}"
    if p is not None:
        why += f", paired bootstrap p = {p:.3g}"
    if alpha is not None:
        if p is None:
            passed = False
            why += "; significance was required but the two sides were not scored on the same examples"
        elif p >= alpha:
            passed = False
            why += f"; not significant at {alpha:g}"
    return GateResult(passed, metric, c, i, improvement, min_delta, p,
                      ("PASS " if passed else "FAIL ") + f"{cand.source} vs {inc.source}: {why}")
