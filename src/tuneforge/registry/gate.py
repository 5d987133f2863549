"""The evaluation gate that promotion to production can require, read from eval.json files.

An eval.json (eval/compare.py) holds `systems.<name>.<metric>` for the fine-tuned variant and the prompted
baselines. The gate passes when the variant beats the best prompted baseline by `min_margin` and, when the
current production variant was evaluated on the same data, is not worse than it. Kept behind one function so
the standalone `tuneforge eval gate` command can share it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

TUNED_SYSTEM = "fine-tuned"


@dataclass
class GateResult:
    passed: bool
    metric: str
    candidate: float | None
    best_baseline: float | None
    production: float | None = None
    reasons: list[str] = field(default_factory=list)

    def summary(self) -> str:
        verdict = "passed" if self.passed else "failed"
        return f"eval gate {verdict}: " + "; ".join(self.reasons)


def read_eval(path: str | Path) -> dict:
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no eval.json (run `tuneforge eval --model RUN --data HELD_OUT` first)")
    try:
        report = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{p}: not valid JSON (line {err.lineno}): {err.msg}") from None
    if not isinstance(report.get("systems"), dict):
        raise ValueError(f"{p}: field 'systems' is missing; not a tuneforge eval.json")
    return report


def _score(report: dict, system: str, metric: str, source: str) -> float:
    summary = report["systems"].get(system)
    if summary is None:
        raise ValueError(f"{source}: systems.{system} is missing (systems present: {', '.join(report['systems'])})")
    if not isinstance(summary.get(metric), (int, float)):
        raise ValueError(f"{source}: systems.{system}.{metric} is missing or not a number")
    return float(summary[metric])


def check_gate(
    candidate_eval: str | Path,
    production_eval: str | Path | None = None,
    metric: str = "exact_match",
    min_margin: float = 0.0,
) -> GateResult:
    report = read_eval(candidate_eval)
    cand = _score(report, TUNED_SYSTEM, metric, str(candidate_eval))
    # Prompted systems only: other variants and constrained decoding of the same variant are not baselines.
    prompted = [k for k, s in report["systems"].items()
                if k != TUNED_SYSTEM and s.get("kind") not in ("variant", "classical")]
    baselines = {k: _score(report, k, metric, str(candidate_eval)) for k in prompted}
    result = GateResult(True, metric, cand, max(baselines.values()) if baselines else None)
    if result.best_baseline is None:
        result.passed = False
        result.reasons.append(f"{candidate_eval} has no prompted baseline to compare with (eval ran with --no-baselines)")
    elif not cand > result.best_baseline + min_margin:
        result.passed = False
        result.reasons.append(f"{metric} {cand:.3f} does not beat the best prompted baseline {result.best_baseline:.3f}"
                              + (f" by {min_margin}" if min_margin else ""))
    else:
        result.reasons.append(f"{metric} {cand:.3f} beats the best prompted baseline {result.best_baseline:.3f}")
    if production_eval is not None and Path(production_eval).is_file():
        prod = read_eval(production_eval)
        if prod.get("data") == report.get("data"):
            result.production = _score(prod, TUNED_SYSTEM, metric, str(production_eval))
            if cand < result.production:
                result.passed = False
                result.reasons.append(f"{metric} {cand:.3f} is below the current production variant's {result.production:.3f}")
            else:
                result.reasons.append(f"not below the current production variant ({result.production:.3f})")
        else:
            result.reasons.append("current production variant was evaluated on other data; not compared")
    return result
