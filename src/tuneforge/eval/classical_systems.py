"""The non-LLM baselines (eval/classical.py) as systems of an evaluation, beside the prompted ones.

They train on the variant's own training split (or on --train-data when no variant is evaluated), are timed,
and answer with label surface forms, so they are scored, bootstrapped and tested like every other system.
"""

from __future__ import annotations

from tuneforge.config import EvalConfig
from tuneforge.data.formats import Example
from tuneforge.eval import classical
from tuneforge.eval.generate import Generation
from tuneforge.eval.systems import System, Variant
from tuneforge.eval.task_types import TaskSpec


def _training_rows(cfg: EvalConfig, pool: list[Example], variants: list[Variant]):
    if variants:
        return classical.variant_training_rows(variants[0].run)
    if cfg.train_data and pool:
        return classical.rows_from_examples(pool, cfg.train_data)
    return None


def classical_systems(cfg: EvalConfig, spec: TaskSpec, examples: list[Example], pool: list[Example],
                      variants: list[Variant], loaded, log) -> list[System]:
    """Fitted baselines as systems; none for tasks other than classification, or with --no-classical."""
    if spec.type != "classification" or not cfg.classical:
        return []
    rows = _training_rows(cfg, pool, variants)
    if rows is None:
        log("non-LLM baselines skipped: no training data (evaluate a run, or pass --train-data)")
        return []
    if rows.note:
        log(f"warning: {rows.note}")
    why_not = classical.can_fit(rows)
    if why_not:
        log(f"non-LLM baselines skipped: {why_not}")
        return []
    texts = [classical.input_text(e) for e in examples]
    plain = [e.prompt_messages for e in examples]
    log(f"training non-LLM baselines on {len(rows.texts)} rows of {rows.source} ...")
    fitted = [classical.fit_tfidf(rows, cfg.seed)]
    if cfg.embedder != "none":
        from tuneforge.eval.embeddings import make_encoder

        base = (loaded.run or {}).get("base", {}).get("name", str(cfg.model))
        fitted.append(classical.fit_embedding(rows, make_encoder(cfg.embedder, loaded, base), cfg.seed))
    for b in fitted:
        b.info["train_data"] = rows.source
    return [System(b.name, classical.KIND, "classifier", plain, extra={"baseline": b, "texts": texts}) for b in fitted]


def answer_classical(system: System, spec: TaskSpec) -> list[Generation]:
    """Predict every held-out input; each example gets an equal share of the batch's wall time."""
    baseline, texts = system.extra["baseline"], system.extra["texts"]
    preds, seconds, confidences = classical.run_baseline(baseline, texts)
    per = seconds / max(len(texts), 1)
    baseline.info["predict_ms_per_example"] = 1000 * per
    return [Generation(spec.label_forms.get(p, p), per, 0, 0, confidence=c) for p, c in zip(preds, confidences)]


def classical_summary(system: System) -> dict:
    """What eval.json keeps about a baseline beside its metrics: method, features, training rows, timings."""
    b = system.extra["baseline"]
    return {"method": b.method, **b.info}
