"""eval.json, the evaluation contract: the one module that reads and writes it, owns its schema version, the
names of its systems and which way each metric points. The gate, the registry, the reports and (later) the
retrain policy read an evaluation through `read_eval`, never by indexing raw JSON.

Layout (format `tuneforge.eval/3`): `systems.<name>` holds `kind`, `decoding`, `n`, `metrics` (the task's headline
metrics, each stored once), `ci` (with `ci_method`), `details`, latency p50/p95, tokens and cost, and for systems
that state a probability with each answer `calibration` (ECE, mean confidence, accuracy; optional); `examples[i]`
holds the input, reference, and per system the prediction, the score row and the timing. Version 2 files also
repeated each headline metric at the top of the system; version 1 files had only those. Both are still read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from tuneforge.atomic import write_text_atomic
from tuneforge.errors import UserError

FORMAT = "tuneforge.eval/3"
READABLE = ("tuneforge.eval/1", "tuneforge.eval/2", FORMAT)
EVAL_FILE = "eval.json"
REPORT_FILE = "report.html"
PRIMARY = "fine-tuned"  # the --model variant's system name
# A metric whose name holds one of these is better when lower; every other metric is better when higher.
LOWER_IS_BETTER = ("latency", "cost", "tokens", "out_of_label", "loss")
# Metrics measured per example outside the score rows: the gate can still run a paired test on them.
TIMING_METRICS = {"latency_p50_s": ("latency_s", 0.5), "latency_p95_s": ("latency_s", 0.95)}


def tokens_read(system: dict) -> tuple[str, str] | None:
    """Mean LLM tokens in and out per example; None for a non-LLM baseline, which reads no prompt and writes no
    tokens (its 0/0 would read as free)."""
    if system.get("kind") == "classical":
        return None
    return f"{system['mean_tokens_in']:.0f}", f"{system['mean_tokens_out']:.0f}"


def higher_is_better(metric: str) -> bool:
    return not any(word in metric for word in LOWER_IS_BETTER)


def interval_methods(raw: dict) -> str:
    """The interval method of each headline metric, as stored in `systems.*.ci_method`, in words."""
    by_method: dict[str, list[str]] = {}
    for s in raw.get("systems", {}).values():
        for metric, method in s.get("ci_method", {}).items():
            if metric not in by_method.setdefault(method, []):
                by_method[method].append(metric)
    return "; ".join(f"{method} for {', '.join(metrics)}" for method, metrics in by_method.items())


def eval_path(path: str | Path) -> Path:
    """An eval.json itself, or the eval.json inside a run folder."""
    p = Path(path)
    return p / EVAL_FILE if p.is_dir() else p


@dataclass
class EvalReport:
    """A parsed eval.json. `raw` is the stored dictionary (reports render it); the methods are what callers use."""

    raw: dict
    path: Path | None = None
    source: str = field(default="eval.json")

    @property
    def systems(self) -> dict[str, dict]:
        return self.raw["systems"]

    @property
    def data(self) -> str | None:
        return self.raw.get("data")

    @property
    def examples(self) -> list[dict]:
        return self.raw.get("examples", [])

    def interval_methods(self) -> str:
        """How the intervals were made, in words (e.g. "Wilson score for accuracy; BCa bootstrap for macro_f1")."""
        return interval_methods(self.raw)

    def system(self, name: str) -> dict:
        if name not in self.systems:
            raise UserError(f"no system {name!r}; have {', '.join(self.systems)}", file=self.source)
        return self.systems[name]

    def default_system(self) -> str:
        """The --model variant if there is one, else the first variant, else the first system."""
        if PRIMARY in self.systems:
            return PRIMARY
        variants = [n for n, s in self.systems.items() if s.get("kind") == "variant"]
        return variants[0] if variants else next(iter(self.systems), "")

    def prompted_systems(self) -> list[str]:
        """The baselines: every system that is not a variant (constrained decoding of a variant is a variant) and
        not a non-LLM classifier (kind "classical", eval/classical.py; the recommendation weighs those)."""
        return [n for n, s in self.systems.items() if n != PRIMARY and s.get("kind") not in ("variant", "classical")]

    def metric_names(self, system: str) -> list[str]:
        s = self.system(system)
        return list(s.get("metrics", {})) + [k for k, v in s.items() if isinstance(v, (int, float))]

    def metric(self, system: str, metric: str) -> float:
        s = self.system(system)
        if metric in s.get("metrics", {}):
            return float(s["metrics"][metric])
        if isinstance(s.get(metric), (int, float)):  # latency, tokens, cost; or a version-1 file
            return float(s[metric])
        raise UserError(f"no metric {metric!r} for system {system!r}; choose from "
                        f"{', '.join(self.metric_names(system))}", file=self.source, field="metric")

    def headline(self):
        """The task's `headline(rows) -> {metric: value}` function, or None for a file without a task spec."""
        from tuneforge.eval.task_types import TaskSpec

        spec = self.raw.get("task_spec")
        return TaskSpec(**spec).headline_values if spec else None

    def example_rows(self, system: str, metric: str):
        """(per-example rows, rows -> {metric: value}) to resample for `metric`, or None when not stored."""
        try:
            if metric in TIMING_METRICS:
                from tuneforge.eval.stats import percentile

                key, q = TIMING_METRICS[metric]
                rows = [e["timing"][system] for e in self.examples]
                return rows, lambda rs: {metric: percentile(sorted(r[key] for r in rs), q)}
            rows = [e["scores"][system] for e in self.examples]
        except KeyError:
            return None
        headline = self.headline()
        if not rows or headline is None or metric not in headline(rows[:1]):
            return None
        return rows, headline


def read_eval(path: str | Path) -> EvalReport:
    """Read an eval.json (or a run folder's); UserError naming the file when it is missing or not one."""
    p = eval_path(path)
    if not p.is_file():
        raise UserError("no eval.json there", file=str(path), hint="run `tuneforge eval --model RUN --eval-data HELD_OUT` first")
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise UserError(f"not valid JSON: {err.msg}", file=str(p), line=err.lineno) from None
    if not isinstance(raw, dict) or not isinstance(raw.get("systems"), dict):
        raise UserError("not a tuneforge eval.json", file=str(p), field="systems")
    fmt = raw.get("format", READABLE[0])
    if fmt not in READABLE:
        raise UserError(f"unknown eval.json format {fmt!r} (this tuneforge reads {', '.join(READABLE)})",
                        file=str(p), field="format", hint="upgrade tuneforge")
    return EvalReport(raw, p, str(p))


def write_eval(report: dict, out: str | Path) -> Path:
    """Write `report` (the dictionary compare.run_eval builds) atomically, stamped with the schema version."""
    report["format"] = FORMAT
    return write_text_atomic(out, json.dumps(report, indent=2, ensure_ascii=False) + "\n")
