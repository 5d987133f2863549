"""Compare systems on the same held-out examples: the prompted base (zero-shot, few-shot random and by
similarity), every named variant, optionally an OpenAI-compatible endpoint; free and constrained decoding.

Reads the data and the run folders, writes eval.json (everything machine-readable) and report.html.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from tuneforge.config import EvalConfig
from tuneforge.atomic import write_text_atomic
from tuneforge.data.answer_schema import run_answer_schema
from tuneforge.data.formats import Example, load_examples, load_from_options
from tuneforge.errors import UserError
from tuneforge.eval.eval_file import EVAL_FILE, FORMAT, PRIMARY, REPORT_FILE, write_eval
from tuneforge.eval.shots import SimilarityIndex, choose_shots, few_shot_prompt
from tuneforge.eval.systems import (AnsweringModels, System, Variant, activate, adapter_name, load_models, own_weights,
                                    parse_variants)
from tuneforge.eval.task_types import TaskSpec, detect_task
from tuneforge.models.classifier import is_classifier
from tuneforge.run_record import is_run_dir


def build_systems(cfg: EvalConfig, examples: list[Example], pool: list[Example], variants: list[Variant],
                  spec: TaskSpec, log) -> list[System]:
    plain = [e.prompt_messages for e in examples]
    systems: list[System] = []
    can_constrain = cfg.constrained and spec.type in ("classification", "extraction")
    if cfg.baselines or not variants:
        systems.append(System("base zero-shot", "zero-shot", "free", plain))
        if cfg.shots and pool:
            selections = cfg.few_shot.split(",")
            if "random" in selections:
                shots = choose_shots(pool, cfg.shots, cfg.seed)
                systems.append(System(f"base few-shot random (k={len(shots)})", "few-shot random", "free",
                                      [few_shot_prompt(e, shots) for e in examples]))
            if "similar" in selections:
                index = SimilarityIndex(pool)
                k = min(cfg.shots, len(pool))
                systems.append(System(f"base few-shot similar (k={k})", "few-shot similar", "free",
                                      [few_shot_prompt(e, index.nearest(e.user_text, cfg.shots)) for e in examples]))
        elif cfg.shots:
            log("few-shot skipped: no training data to draw examples from (pass --train-data)")
        if can_constrain:
            systems.append(System("base zero-shot (constrained)", "zero-shot", "constrained", plain))
    for v in variants:
        if is_classifier(v.run):  # answers by argmax over its labels: one system, nothing to constrain
            systems.append(System(v.name, "variant", "classify", plain, extra={"path": v.path}))
            continue
        # What the variant answers with: an adapter on the shared base, or a full fine-tune's own weights.
        model = {"adapter": adapter_name(variants, v.name), "weights": own_weights(variants, v.name)}
        schema = run_answer_schema(v.run) if spec.type == "extraction" else None
        if schema:  # an extraction variant answers valid JSON with its training keys by default, as in predict
            systems.append(System(v.name, "variant", "constrained", plain, **model, extra={"schema": schema}))
            if cfg.constrained:
                systems.append(System(f"{v.name} (free)", "variant", "free", plain, **model))
            continue
        systems.append(System(v.name, "variant", "free", plain, **model))
        if can_constrain:
            systems.append(System(f"{v.name} (constrained)", "variant", "constrained", plain, **model))
    if cfg.endpoint_url:
        systems.append(System(f"endpoint {cfg.endpoint_model}", "endpoint", "free", plain))
    return systems


def _answer(system: System, cfg: EvalConfig, models: AnsweringModels, spec: TaskSpec, max_new: int):
    from tuneforge.eval.constrained import json_answers, score_labels
    from tuneforge.eval.endpoint import generate_remote, make_client
    from tuneforge.eval.generate import generate_batch

    if system.decoding == "classify":
        from tuneforge.eval.classifier_system import classify_prompts

        return classify_prompts(system.extra["path"], system.prompts, cfg.batch_size)
    if system.kind == "classical":
        from tuneforge.eval.classical_systems import answer_classical

        return answer_classical(system, spec)
    if system.kind == "endpoint":
        client = make_client(cfg.endpoint_url, cfg.endpoint_key_env)
        return generate_remote(client, cfg.endpoint_model, system.prompts, max_new)
    loaded = models.model_for(system)
    with activate(loaded, system.adapter):
        if system.decoding == "constrained" and spec.type == "classification":
            forms = [spec.label_forms.get(lab, lab) for lab in spec.labels or []]
            return score_labels(loaded.model, loaded.tokenizer, system.prompts, forms, cfg.batch_size)
        if system.decoding == "constrained":
            schema = system.extra.get("schema") or {"keys": spec.keys, "key_types": spec.key_types}
            return json_answers(loaded.model, loaded.tokenizer, system.prompts, schema, cfg.batch_size)
        return generate_batch(loaded.model, loaded.tokenizer, system.prompts, max_new, cfg.batch_size)


def summarise_system(system: System, gens, rows: list[dict], refs: list[str], spec: TaskSpec, cfg: EvalConfig) -> dict:
    from tuneforge.eval.endpoint import cost_per_1k_requests
    from tuneforge.eval.stats import confidence_intervals, percentile

    latencies = [g.latency_s for g in gens]
    headline = spec.headline_values(rows)  # each metric stored once, under "metrics" (see eval_file.py)
    out = {
        "n": len(rows),
        "kind": system.kind,
        "decoding": system.decoding,
        "metrics": headline,
        "ci": {},  # filled below with the method of each interval
        "details": {k: v for k, v in spec.summary(rows).items() if k not in headline},
        "mean_latency_s": sum(latencies) / len(latencies) if latencies else 0.0,
        "latency_p50_s": percentile(sorted(latencies), 0.5),
        "latency_p95_s": percentile(sorted(latencies), 0.95),
        "mean_tokens_in": sum(g.tokens_in for g in gens) / len(gens),
        "mean_tokens_out": sum(g.tokens_out for g in gens) / len(gens),
    }
    if cfg.bootstrap:
        out["ci"], out["ci_method"] = confidence_intervals(rows, spec.headline_values, cfg.bootstrap, cfg.confidence,
                                                           cfg.seed)
    calibration = answer_calibration(gens, rows)
    if calibration:
        out["calibration"] = calibration
    if system.kind == "classical":
        from tuneforge.eval.classical_systems import classical_summary

        out["classical"] = classical_summary(system)
    if system.kind == "endpoint" and cfg.price_in is not None:
        out["cost_per_1k_requests"] = cost_per_1k_requests(
            out["mean_tokens_in"], out["mean_tokens_out"], cfg.price_in, cfg.price_out or 0.0)
    return out


def answer_calibration(gens, rows: list[dict]) -> dict | None:
    """How well a system's stated probabilities match how often it is right, on these held-out rows: for systems
    that give a probability with every answer (a classification variant, the non-LLM baselines). The variant's
    temperature was fitted on its own held-out split at training; this is the check on data it never saw."""
    from tuneforge.models.calibration import ECE_BINS, calibration_error

    if not gens or any(g.confidence is None for g in gens) or any("correct" not in r for r in rows):
        return None
    confidences = [g.confidence for g in gens]
    correct = [bool(r["correct"]) for r in rows]
    return {"ece": calibration_error(confidences, correct), "mean_confidence": sum(confidences) / len(confidences),
            "accuracy": sum(correct) / len(correct), "bins": ECE_BINS, "n": len(rows)}


def compare_systems(spec: TaskSpec, rows: dict[str, list[dict]], kinds: dict[str, str], reference: str,
                    cfg: EvalConfig) -> list[dict]:
    """Paired tests on every headline metric: the reference variant against every other system, and each other
    variant (constrained decoding included) against the best prompted system, which the recommendation needs."""
    from tuneforge.eval.stats import mcnemar_exact, paired_bootstrap

    if not cfg.bootstrap:
        return []
    pairs = [(reference, other) for other in rows if other != reference]
    first = spec.headline[0]
    for group in ([n for n in rows if kinds[n] not in ("variant", "classical")],  # the prompted systems
                  [n for n in rows if kinds[n] == "classical"]):  # the non-LLM baselines
        if group:
            best = max(group, key=lambda n: spec.headline_values(rows[n])[first])
            pairs += [(v, best) for v in rows if kinds[v] == "variant" and v != reference]
    out = []
    for a, b in pairs:
        for metric in spec.headline:
            test = paired_bootstrap(rows[a], rows[b], spec.headline_values, metric, cfg.bootstrap, cfg.confidence, cfg.seed)
            entry = {"a": a, "b": b, **test}
            binary = {"accuracy": "correct", "exact_match": "exact"}.get(metric)
            if binary:
                entry["mcnemar"] = mcnemar_exact([bool(r[binary]) for r in rows[a]], [bool(r[binary]) for r in rows[b]])
            out.append(entry)
    return out


def check_leakage(examples: list[Example], variants: list[Variant], cfg: EvalConfig, log) -> dict:
    """Held-out inputs that are (nearly) inputs of a variant's training data: the same definition as
    `data clean`/`data report` (data/duplicates.py), near-copies included."""
    from tuneforge.data.duplicates import NEAR_THRESHOLD, leaked_eval_lines

    found = {}
    for v in variants:
        path = (v.run.get("data") or {}).get("path")
        if not path or not Path(path).is_file():
            found[v.name] = {"train_data": path, "checked": False}
            continue
        train, _ = load_examples(path, cfg.data_format, cfg.input_column, cfg.output_column, cfg.system_prompt)
        lines = leaked_eval_lines(train, examples)
        found[v.name] = {"train_data": path, "checked": True, "overlap": len(lines),
                         "share": len(lines) / len(examples) if examples else 0.0, "lines": lines[:50],
                         "similarity_threshold": NEAR_THRESHOLD}
        if found[v.name]["overlap"]:
            log(f"warning: {found[v.name]['overlap']} held-out input(s) also occur (or nearly) in the training data "
                f"of {v.name} ({path}); its score is inflated")
    return found


def run_judge(cfg: EvalConfig, examples: list[Example], predictions: dict[str, list[str]], log) -> dict:
    from tuneforge.eval.endpoint import make_client
    from tuneforge.eval.judge import judge_pairwise

    client = make_client(cfg.judge_url, cfg.judge_key_env)
    refs = [e.answer for e in examples]
    inputs = [e.user_text for e in examples]
    against = cfg.judge_against
    if against != "reference" and against not in predictions:
        raise UserError(f"--judge-against: no system named {against!r}; have {', '.join(predictions)}")
    opponent = refs if against == "reference" else predictions[against]
    results = {}
    for name, preds in predictions.items():
        if name == against:
            continue
        log(f"judging {name} against {against} ...")
        results[name] = judge_pairwise(client, cfg.judge_model, inputs, preds, opponent,
                                       refs if against != "reference" else None, seed=cfg.seed)
    return {"model": cfg.judge_model, "against": against, "results": results}


def _check_remote_options(cfg: EvalConfig) -> None:
    """Before any generation: a half-configured endpoint or judge would otherwise fail after minutes of work."""
    for url, model, what in ((cfg.endpoint_url, cfg.endpoint_model, "endpoint"), (cfg.judge_url, cfg.judge_model, "judge")):
        if bool(url) != bool(model):
            raise UserError(f"--{what}-url and --{what}-model go together; got only one of them")


def run_eval(cfg: EvalConfig, log=print) -> dict:
    from tuneforge.eval.recommend import recommendation

    _check_remote_options(cfg)
    examples = load_from_options(cfg.eval_data, cfg)
    if cfg.limit:
        examples = examples[: cfg.limit]
    variants = parse_variants(cfg)
    loaded = load_models(cfg, variants)
    tok = loaded.tokenizer
    refs = [e.answer for e in examples]
    pool_path = cfg.train_data or (variants[0].run.get("data", {}).get("path") if variants else None)
    pool = load_from_options(pool_path, cfg) if pool_path else []
    sections = [s.strip() for s in cfg.sections.split(",") if s.strip()] if cfg.sections else None
    spec = detect_task(refs, [e.answer for e in pool], cfg.task, sections, cfg.max_words)
    ref_len = max(len(tok(r, add_special_tokens=False)["input_ids"]) for r in refs)
    max_new = cfg.max_new_tokens or int(ref_len * 1.5) + 8

    from tuneforge.eval.classical_systems import classical_systems

    systems = build_systems(cfg, examples, pool, variants, spec, log)
    systems += classical_systems(cfg, spec, examples, pool, variants, loaded, log)
    results: dict[str, dict] = {}
    predictions: dict[str, list[str]] = {}
    rows: dict[str, list[dict]] = {}
    per_example: dict[str, list[dict]] = {}
    models = AnsweringModels(loaded)
    for system in systems:
        log(f"evaluating {system.name} on {len(examples)} examples ...")
        gens = _answer(system, cfg, models, spec, max_new)
        predictions[system.name] = [g.text for g in gens]
        rows[system.name] = [spec.score(g.text, r) for g, r in zip(gens, refs)]
        per_example[system.name] = [
            {"latency_s": g.latency_s, "tokens_in": g.tokens_in, "tokens_out": g.tokens_out} for g in gens
        ]
        results[system.name] = summarise_system(system, gens, rows[system.name], refs, spec, cfg)

    reference = PRIMARY if PRIMARY in results else (variants[0].name if variants else None)
    report = {
        "format": FORMAT,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "model": str(cfg.model),
        "base": (loaded.run or {}).get("base", {}).get("name", loaded.name),  # the prompted systems' base
        "data": str(Path(cfg.eval_data).resolve()),
        "task": spec.type,
        "labels": spec.labels,
        "task_spec": spec.to_json(),
        "headline_metrics": list(spec.headline),
        "max_new_tokens": max_new,
        "config": cfg.model_dump(),
        "systems": results,
        "significance": compare_systems(spec, rows, {s.name: s.kind for s in systems}, reference, cfg) if reference else [],
        "leakage": check_leakage(examples, variants, cfg, log),
        "examples": [
            {
                "line": e.line,
                "input": e.user_text,
                "reference": e.answer,
                "predictions": {name: predictions[name][i] for name in predictions},
                "scores": {name: rows[name][i] for name in rows},
                "timing": {name: per_example[name][i] for name in per_example},
            }
            for i, e in enumerate(examples)
        ],
    }
    if cfg.judge_url:
        report["judge"] = run_judge(cfg, examples, predictions, log)
    report["recommendation"] = recommendation(report)
    out = Path(cfg.out) if cfg.out else (Path(cfg.model) / EVAL_FILE if is_run_dir(cfg.model) else Path(EVAL_FILE))
    write_report_files(report, out, cfg.html)
    return report


def write_report_files(report: dict, out: Path, html: str | None = None) -> None:
    """eval.json at `out`; the HTML report at `html` (default: report.html beside it; "none": no HTML)."""
    write_eval(report, out)
    report["path"] = str(out)
    if html is None or html.lower() != "none":
        from tuneforge.eval.html_report import render_html

        default = out.with_name(REPORT_FILE) if out.name == EVAL_FILE else out.with_suffix(".html")
        html_path = Path(html) if html else default
        write_text_atomic(html_path, render_html(report))
        report["html_path"] = str(html_path)
