"""Evaluate a registered version the way `tuneforge eval` does (eval/compare.run_eval, the one implementation):
against the prompted base, the classical baselines and, when another version of the name is in production, that
version too; then record the eval.json in the registry, so the promotion gate can read it.

Which held-out data: a file the caller names; else the production version's evaluation set (so the gate can
also compare with production on the same examples); else the run's own held-out file (`--eval-data`, a job's
validation file); else its seeded split (`eval_split`), rebuilt exactly as training made it.
"""

from __future__ import annotations

import json
from pathlib import Path

from tuneforge.errors import UserError
from tuneforge.eval.eval_file import EVAL_FILE
from tuneforge.registry import lineage
from tuneforge.registry.store import PRODUCTION_SYSTEM, Registry, Variant
from tuneforge.run_record import read_run

HELD_OUT_FILE = "held-out.jsonl"


def held_out_data(v: Variant, production: Variant | None) -> str:
    """Path of the examples to evaluate `v` on (see the module docstring); UserError when it has none."""
    from tuneforge.config import TrainConfig
    from tuneforge.data.formats import load_from_options
    from tuneforge.data.split import split_examples

    if production is not None and production.eval_path and Path(production.eval_path).is_file():
        frozen = json.loads(Path(production.eval_path).read_text(encoding="utf-8")).get("data")
        if frozen and Path(frozen).is_file():
            return frozen
    run = read_run(v.run_path)
    data = run.get("data") or {}
    if data.get("eval_path") and Path(data["eval_path"]).is_file():
        return data["eval_path"]
    config = run.get("config") or {}
    if (config.get("eval_split") or 0) > 0 and data.get("path") and Path(data["path"]).is_file():
        cfg = TrainConfig(**config)
        _, held = split_examples(load_from_options(data["path"], cfg), cfg.eval_split, cfg.seed)
        if held:
            out = Path(v.run_path) / HELD_OUT_FILE
            out.write_text("".join(e.jsonl_line() for e in held), encoding="utf-8")
            return str(out)
    raise UserError(f"{v.ref} was trained without held-out data (no validation file, no eval split)",
                    field="eval_file", hint="upload a held-out file (purpose fine-tune) and name it as eval_file")


def _with_production(ref: str) -> tuple[Variant, Variant | None]:
    """Version `ref` and the production version of its name (None when there is none or it is `ref` itself)."""
    registry = Registry()
    try:
        v = registry.get(ref)
        production = registry.find(f"{v.name}@production")
    finally:
        registry.close()
    return v, (None if production is None or production.id == v.id else production)


def data_for(ref: str) -> str:
    """The held-out data `evaluate_version(ref)` would use; UserError (naming eval_file) when there is none."""
    return held_out_data(*_with_production(ref))


def evaluate_version(ref: str, eval_data: str | None = None, limit: int | None = None, log=print) -> dict:
    """Run the evaluation of registered version `ref`, write RUN/eval.json, record it; return the report."""
    from tuneforge.config import EvalConfig
    from tuneforge.eval.compare import run_eval

    v, production = _with_production(ref)
    data = eval_data or held_out_data(v, production)
    variants = None
    if production is not None:
        if read_run(production.run_path)["base"]["name"] == read_run(v.run_path)["base"]["name"]:
            variants = f"{PRODUCTION_SYSTEM}={production.run_path}"
        else:
            log(f"{production.ref} has another base model; it is not evaluated beside {v.ref}")
    out = Path(v.run_path) / EVAL_FILE
    report = run_eval(EvalConfig(model=v.run_path, eval_data=data, variants=variants, out=str(out), html="none",
                                 limit=limit), log=log)
    registry = Registry()
    try:
        registry.record_eval(v.ref, out)
    finally:
        registry.close()
    lineage.record(v.name, "evaluate", {"eval": str(out), "data": data, "production": production.ref if production
                                        else None, "recommendation": report.get("recommendation")}, variant_ref=v.ref)
    return report
