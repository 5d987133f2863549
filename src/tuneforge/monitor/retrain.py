"""`tuneforge retrain VARIANT`: the production version's dataset plus reviewers' corrections, trained with the
same recipe, evaluated against production, promoted only through the gate.

Steps, each recorded in the registry's lineage (registry/lineage.py) and in a report:
1. corrections of every version of the name, split by a hash of the input into a training share and a
   held-out share (policy `fresh_share`: fresh reviewed traffic the new version never sees in training);
2. a new dataset version = previous data + training corrections, through the data workbench: a correction
   overrides older rows that contradict it (a person decided), then data/clean.py removes duplicates and rows
   that leak into the evaluation sets, and redacts personal data; stored with data/versions.py;
3. training with the production run's own config (run.json), optionally capped in steps;
4. evaluation of the new version and production side by side (one eval.json per set) on the frozen evaluation
   set and on the held-out reviewed traffic;
5. the gate (eval/gate.py) on both: not worse than production on the frozen set by more than the
   non-inferiority margin, and better on fresh traffic with a paired significance test;
6. registration, and promotion to production only when both gates pass.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from tuneforge.config import EvalConfig, MonitorPolicy, TrainConfig
from tuneforge.data.formats import Example, LoadResult, load_examples
from tuneforge.data.labels import normalise_answer
from tuneforge.errors import UserError
from tuneforge.monitor.confidence import monitor_dir
from tuneforge.registry import lineage
from tuneforge.registry.store import PRODUCTION_SYSTEM

CANDIDATE, INCUMBENT = "fine-tuned", PRODUCTION_SYSTEM
MIN_FRESH = 10  # fewer held-out reviewed requests than this cannot show a significant difference


@dataclass
class RetrainResult:
    name: str
    parent: str
    folder: Path
    dataset: str | None = None
    run_path: str | None = None
    new_ref: str | None = None
    promoted: bool = False
    gates: dict = field(default_factory=dict)
    report: dict = field(default_factory=dict)


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def merge_corrections(previous: list[Example], corrections: list[Example]) -> tuple[list[Example], list[dict]]:
    """Previous rows that a correction contradicts (same or near-same input, other answer) are dropped: the
    reviewer's answer is newer and was given by a person looking at this very input."""
    from tuneforge.data.duplicates import contradictions

    combined = previous + corrections
    first_correction = len(previous)
    drop, dropped = set(), []
    for f in contradictions(combined):
        fixed = [i for i in f.members if i >= first_correction]
        if not fixed:
            continue
        truth = normalise_answer(combined[max(fixed)].answer)
        for i in f.members:
            if i < first_correction and normalise_answer(combined[i].answer) != truth:
                drop.add(i)
                dropped.append({"input": combined[i].user_text, "old": combined[i].answer, "new": truth})
    return [e for i, e in enumerate(combined) if i not in drop], dropped


def _gate_side(report: dict, name: str) -> str:
    constrained = f"{name} (constrained)"
    return constrained if constrained in report["systems"] else name


def evaluate_pair(candidate_run: str, production_run: str, data: str, out: Path, log) -> dict:
    from tuneforge.eval.compare import run_eval

    cfg = EvalConfig(model=candidate_run, data=data, variants=f"{INCUMBENT}={production_run}", baselines=False,
                     out=str(out), bootstrap=200, html="none")
    return run_eval(cfg, log=log)


def gate(eval_path: Path, metric: str, min_delta: float, confidence: float | None):
    """The one gate (eval/gate.py), candidate against production in the same eval.json, direction-aware."""
    from tuneforge.eval.gate import decide

    report = json.loads(eval_path.read_text(encoding="utf-8"))
    return decide(f"{eval_path}#{_gate_side(report, CANDIDATE)}", f"{eval_path}#{_gate_side(report, INCUMBENT)}",
                  metric, min_delta, confidence=confidence)


def retrain(name: str, policy: MonitorPolicy, log=print, holdout_share: float | None = None, reason: str = "manual",
            ) -> RetrainResult:
    from tuneforge.data.clean import CleanOptions, run_cleaning
    from tuneforge.data.versions import add_version
    from tuneforge.monitor.feedback import FeedbackStore
    from tuneforge.monitor.reference import load_reference
    from tuneforge.monitor.traffic_query import training_row
    from tuneforge.registry.store import Registry
    from tuneforge.run_record import read_run
    from tuneforge.train.sft import train

    registry = Registry()
    try:
        production = registry.get(f"{name}@production")
        names = [v.ref for v in registry.list(name=name)]
    finally:
        registry.close()
    ref = load_reference(production.ref)
    run = read_run(production.run_path)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    folder = monitor_dir(name) / f"retrain-{stamp}"
    folder.mkdir(parents=True, exist_ok=True)
    result = RetrainResult(name, production.ref, folder)
    say = lambda msg: log(f"retrain {name}: {msg}")  # noqa: E731

    # 1. Corrections, split into training and held-out reviewed traffic.
    store = FeedbackStore()
    try:
        rows = store.corrections(names)
    finally:
        store.close()
    if len(rows) < policy.min_corrections:
        raise UserError(f"{name}: {len(rows)} corrections collected, the policy needs {policy.min_corrections} "
                        f"before a retrain", field="min_corrections", hint="review more with `tuneforge review`")
    from tuneforge.monitor.request_inputs import input_key, input_text, is_held_out

    # The policy's share (fresh_share) unless the caller names one.
    holdout_share = policy.fresh_share if holdout_share is None else holdout_share
    # Held-out traffic counts each input once (the latest review wins): the same request asked ten times is one
    # piece of evidence, and counting it ten times would make the gate's paired test look surer than it is.
    fresh = list({input_key(input_text(r)): r for r in rows
                  if is_held_out(input_text(r), holdout_share)}.values())
    learn = [r for r in rows if not is_held_out(input_text(r), holdout_share)]
    as_examples = lambda rs: [Example(training_row(r, ref.system_prompt)["messages"], line=None,  # noqa: E731
                                      meta={"request_id": r["request_id"]}) for r in rs]
    fresh_path = _write_jsonl(folder / "fresh-reviewed.jsonl", [training_row(r, ref.system_prompt) for r in fresh])
    say(f"{len(rows)} corrections: {len(learn)} to learn from, {len(fresh)} held out as fresh reviewed traffic")
    # A retrain asked for by hand (CLI or web app) does not wait for the policy's fresh evidence; say what that costs.
    short = (f"only {len(fresh)} distinct held-out inputs for the fresh-traffic gate, fewer than the policy's "
             f"min_fresh_inputs ({policy.min_fresh_inputs}): a better version may be refused for lack of evidence"
             ) if len(fresh) < policy.min_fresh_inputs else None
    if short:
        say(short)

    # 2. The new dataset version through the workbench's checks.
    previous = load_examples(run["data"]["path"])[0]
    merged, overridden = merge_corrections(previous, as_examples(learn))
    frozen_path = json.loads(Path(production.eval_path).read_text())["data"] if production.eval_path else None
    evals = (load_examples(frozen_path)[0] if frozen_path else []) + as_examples(fresh)
    cleaned = run_cleaning(LoadResult(merged, [], "chat"), evals=evals, opts=CleanOptions(pii="redact"))
    source = _write_jsonl(folder / "data.jsonl", [e.to_json() for e in cleaned.kept])
    dataset_name = (run["data"].get("version") or name).split("@")[0]
    checks = {"clean": {s.name: {"action": s.action, "found": s.count, "affected": s.affected} for s in cleaned.steps},
              "overridden_by_corrections": len(overridden)}
    vid, _, _ = add_version(cleaned.kept, source, "chat", name=dataset_name, checks=checks)
    result.dataset = vid
    old_labels = set(ref.labels)
    new_labels = sorted({normalise_answer(e.answer) for e in cleaned.kept} - old_labels) if old_labels else []
    data_change = {"previous": run["data"].get("version") or run["data"]["path"], "new": vid,
                   "feedback_upto": max((r["feedback_id"] for r in rows), default=0),
                   "previous_examples": len(previous), "corrections_added": len(learn), "overridden": overridden,
                   "cleaning": checks["clean"], "examples": len(cleaned.kept), "new_labels": new_labels}
    lineage.record(name, "dataset", data_change, parent_ref=production.ref)
    say(f"dataset {vid}: {len(cleaned.kept)} examples ({len(previous)} before, {len(overridden)} overridden"
        + (f", new labels: {', '.join(new_labels)}" if new_labels else "") + ")")

    # 3. Same recipe.
    recipe = dict(run["config"])
    recipe.update(data=vid, out=str(folder / "run"), resume=False, progress=False, eval_data=None)
    if policy.retrain_max_steps:
        recipe["max_steps"] = policy.retrain_max_steps
    cfg = TrainConfig(**recipe)
    new_run = str(train(cfg, log=lambda m: None))
    result.run_path = new_run
    trained = read_run(new_run)
    lineage.record(name, "train", {"run": new_run, "steps": trained["metrics"]["steps"],
                                   "final_eval_loss": trained["metrics"].get("final_eval_loss"),
                                   "max_steps": cfg.max_steps}, parent_ref=production.ref)
    say(f"trained {new_run} ({trained['metrics']['steps']} steps)")

    # 4-5. Evaluate against production and gate.
    gates = {}
    if frozen_path:
        evaluate_pair(new_run, production.run_path, frozen_path, Path(new_run) / "eval.json", lambda m: None)
        gates["frozen"] = gate(Path(new_run) / "eval.json", policy.gate_metric, -policy.non_inferiority, None)
    if len(fresh) >= MIN_FRESH:
        evaluate_pair(new_run, production.run_path, str(fresh_path), folder / "eval-fresh.json", lambda m: None)
        gates["fresh"] = gate(folder / "eval-fresh.json", policy.gate_metric, 0.0, policy.gate_confidence)
    passed = "frozen" in gates and "fresh" in gates and all(g.passed for g in gates.values())
    why = [g.summary() for g in gates.values()]
    if "fresh" not in gates:
        why.append(f"only {len(fresh)} held-out reviewed requests (need {MIN_FRESH}) to compare on fresh traffic")
    if short and "fresh" in gates and not gates["fresh"].passed:
        why.append(short)
    if "frozen" not in gates:
        why.append(f"{production.ref} has no recorded eval.json, so there is no frozen evaluation set")
    result.gates = {k: {"passed": g.passed, "metric": g.metric, "candidate": g.candidate, "incumbent": g.incumbent,
                        "improvement": g.improvement, "min_delta": g.min_delta, "p_value": g.p_value,
                        "message": g.summary()} for k, g in gates.items()}
    lineage.record(name, "gate", {"passed": passed, "gates": result.gates, "why": why,
                                  "feedback_upto": data_change["feedback_upto"]}, parent_ref=production.ref)
    for line in why:
        say(line)

    # 6. Register; promote only through the gate.
    registry = Registry()
    try:
        frozen_eval = Path(new_run) / "eval.json"
        v = registry.register(new_run, name, eval_path=frozen_eval if frozen_eval.is_file() else None)
        result.new_ref = v.ref
        if passed:
            registry.promote(v.ref, "production", require_gate=False,
                             note="retrain gate passed: " + " | ".join(g.summary() for g in gates.values()))
            result.promoted = True
    finally:
        registry.close()
    lineage.record(name, "promote" if passed else "not promoted", {"new": result.new_ref, "reason": reason},
                   variant_ref=result.new_ref, parent_ref=production.ref)
    say(f"{result.new_ref} {'promoted to production' if passed else 'registered as a candidate, not promoted'}")
    result.report = {"name": name, "trigger": reason, "parent": production.ref, "new": result.new_ref,
                     "promoted": passed, "data": data_change, "training": {"run": new_run,
                     "steps": trained["metrics"]["steps"], "recipe_from": production.run_path},
                     "gates": result.gates, "why": why, "fresh_reviewed": len(fresh)}
    (folder / "report.json").write_text(json.dumps(result.report, indent=2, ensure_ascii=False, default=str))
    (folder / "report.md").write_text(render_report(result.report), encoding="utf-8")
    return result


def render_report(r: dict) -> str:
    d = r["data"]
    lines = [f"# Retrain of {r['name']}: {r['parent']} -> {r['new']} ({'promoted' if r['promoted'] else 'not promoted'})",
             "", f"Why it ran: {r['trigger']}", "", "## What changed in the data",
             f"- {d['previous']} ({d['previous_examples']} examples) -> {d['new']} ({d['examples']} examples)",
             f"- {d['corrections_added']} reviewer corrections added; {len(d['overridden'])} older rows overridden "
             f"by a correction", f"- new labels: {', '.join(d['new_labels']) or 'none'}"]
    lines += [f"- cleaning: {k} {v['action']} {v['affected']}" for k, v in d["cleaning"].items() if v["affected"]]
    lines += ["", "## Gate", *[f"- {w}" for w in r["why"]], ""]
    return "\n".join(lines)
