"""The maintenance cycle on a real labelled task: drift is detected, the label-free accuracy estimate tracks the
truth, reviewers' corrections trigger a retrain that passes the gate, and accuracy on the new traffic comes back.

Task: examples/invoice-categories. The first version is trained on 11 of the 12 categories (`--per-class` lines
each, 30 by default; `bank_fees` is held back). Traffic is drawn from lines no version trained on
(`--stream-per-class` per known category, 9 by default, 0 for all the rest of the training file):
  phase 1  uniform over the 11 known categories;
  phase 2  (drift) the mix shifts: bank_fees, a category the model has never seen, is 30% of the traffic,
           software 20%, travel 15%, the rest share 35%;
  after    the same drifted mix on examples/invoice-categories/test.jsonl (never trained on, never reviewed).
Every request goes through the traffic log as the server writes it, answered with the variant's best label and its
label probabilities (label scoring, as a classification variant serves). After every `--check-every` requests the
monitor runs on the latest window, and simulated reviewers answer the review queue's first items with the true
label. When the policy fires with enough corrections, `retrain` runs (same recipe, capped at --retrain-steps)
and promotes only through the gate. A stream without drift, of the same length, runs over several seeds to
count false alarms.

    nice -n 10 python benchmarks/monitor_loop.py --train-steps 40 --retrain-steps 40

`--real-model` runs it as a user would: version 1 is what `tuneforge train` builds with no flags (now the
fine-tuned sentence encoder all-MiniLM-L6-v2 with a head over the labels and calibrated probabilities;
`--base smollm2-135m` for the decoder head of the earlier rounds), the retrain uses that recipe unchanged (no step
cap), and the traffic is answered by the served classifier. It keeps its state in
`--home` (default ./monitor-bench-home) after every stage (version 1, scores, each detection stream, the live
stream, the retrain, the final measurement), so a run stopped by a time limit resumes where it stopped:

    nice -n 5 timeout 900 python benchmarks/monitor_loop.py --real-model --seeds 2 --reviews 10 \
        --min-corrections 200 --phase2 600      # run again with the same --home until it finishes

The default stream repeats 138 distinct lines (99 known, 39 `bank_fees`): the held-out side of the retrain's split
never holds more than 37 of them at `fresh_share` 0.3, below the gate's `min_fresh_inputs` (77). The wide stream
trains version 1 on 10 lines per known category (a seeded random sample) and streams every other line of the
training file (360 distinct lines, 107 of them on the held-out side), so the retrain waits for the evidence the
default policy asks for:

    python benchmarks/monitor_loop.py --real-model --per-class 10 --stream-per-class 0 --line-order shuffled \
        --reviews 10 --min-corrections 200 --phase2 3300 --threads 1 --seeds 0 --live-seed 0
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NEW = "bank_fees"
SHIFT = {NEW: 0.30, "software": 0.20, "travel": 0.15}


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def label(row: dict) -> str:
    return row["messages"][-1]["content"]


def user(row: dict) -> str:
    return next(m["content"] for m in row["messages"] if m["role"] == "user")


def write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def weights(categories: list[str], drift: bool) -> dict[str, float]:
    if not drift:
        old = [c for c in categories if c != NEW]
        return {c: 1 / len(old) for c in old}
    rest = [c for c in categories if c not in SHIFT]
    return {**SHIFT, **{c: (1 - sum(SHIFT.values())) / len(rest) for c in rest}}


def draw(pool: dict[str, list[dict]], w: dict[str, float], rng: random.Random) -> dict:
    cat = rng.choices(list(w), weights=list(w.values()))[0]
    return rng.choice(pool[cat])


class Scores:
    """Each distinct input scored once per version: label probabilities and the answer (best label)."""

    def __init__(self, ref):
        from tuneforge.monitor.confidence import LabelScorer

        self.scorer = LabelScorer(ref, batch_size=64)
        self.cache: dict[str, dict[str, float]] = {}

    def warm(self, texts: list[str]) -> None:
        todo = [t for t in dict.fromkeys(texts) if t not in self.cache]
        for t, p in zip(todo, self.scorer.probabilities([self.scorer.prompt([{"role": "user", "content": t}])
                                                         for t in todo])):
            self.cache[t] = p

    def answer(self, text: str) -> tuple[str, dict[str, float]]:
        p = self.cache[text]
        return max(p, key=p.get), p


class CachedScores(Scores):
    """Scores kept in a JSON file beside the benchmark's state, so a resumed run does not score again (and does
    not load the model when every input it needs is already scored)."""

    def __init__(self, ref_spec: str, path: Path):
        self.ref_spec, self.path, self.scorer = ref_spec, path, None
        self.cache = json.loads(path.read_text()) if path.is_file() else {}

    def warm(self, texts: list[str]) -> None:
        if all(t in self.cache for t in texts):
            return
        if self.scorer is None:
            from tuneforge.monitor.confidence import LabelScorer
            from tuneforge.monitor.reference import load_reference

            self.scorer = LabelScorer(load_reference(self.ref_spec), batch_size=32)
        super().warm(texts)
        self.path.write_text(json.dumps(self.cache))


class TfidfScores:
    """A served classifier whose probabilities are cheap: the product's TF-IDF + logistic regression (eval's
    baseline, data/tfidf.py) on the same training rows, calibrated by the monitor's temperature fit
    (models/calibration.py) on the frozen set (--answers tfidf)."""

    def __init__(self, train_rows: list[dict], frozen_rows: list[dict]):
        import numpy as np

        from tuneforge.data.tfidf import fit_tfidf_classifier
        from tuneforge.models.calibration import fit_temperature

        self.model = fit_tfidf_classifier([user(r) for r in train_rows], [label(r) for r in train_rows])[0]
        self.labels = list(self.model.classes_)
        known = [r for r in frozen_rows if label(r) in self.labels]
        logp = np.log(np.clip(self.model.predict_proba([user(r) for r in known]), 1e-12, None))
        self.temperature = fit_temperature(logp.tolist(), [self.labels.index(label(r)) for r in known])
        self.cache: dict[str, dict[str, float]] = {}

    def warm(self, texts: list[str]) -> None:
        import numpy as np

        from tuneforge.models.calibration import softmax_rows

        todo = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if todo:
            logp = np.log(np.clip(self.model.predict_proba(todo), 1e-12, None))
            for t, row in zip(todo, softmax_rows(logp.tolist(), self.temperature)):
                self.cache[t] = dict(zip(self.labels, row))

    def answer(self, text: str) -> tuple[str, dict[str, float]]:
        self.warm([text])
        p = self.cache[text]
        return max(p, key=p.get), p


def simulate(args, scores: Scores, version: str, pool, drift: bool, seed: int, traffic_path: Path, policy,
             log, on_retrain=None, saved: dict | None = None, save=None) -> dict:
    """One traffic stream through the monitor. Without `on_retrain` it stops where the policy first calls for a
    retrain (detection runs). With it (the live stream), each call is a retrain attempt; a refused one lets the
    stream go on, and the policy fires again once `min_corrections` new corrections and `min_fresh_inputs` new
    distinct held-out inputs have come in; the stream
    stops at the first promotion. `saved`/`save` resume a stream that was stopped: the draws are replayed from
    the seed and the requests already in the traffic log are not sent again."""
    from tuneforge.monitor.cycle import run_cycle
    from tuneforge.monitor.feedback import FeedbackStore
    from tuneforge.monitor.reference import load_reference
    from tuneforge.monitor.review_queue import SecondOpinion, rank
    from tuneforge.monitor.summary import load_rows
    from tuneforge.monitor.traffic_log import TrafficLog

    rng = random.Random(seed)
    cats = sorted(pool)
    traffic = TrafficLog(traffic_path)
    sent = traffic.conn.execute("SELECT COUNT(*) FROM traffic").fetchone()[0]
    ref = load_reference(version)
    second = SecondOpinion(ref)
    truth: dict[str, str] = {}
    out = saved or {"seed": seed, "drift": drift, "first_alert_after": None, "alerts": [], "windows": [],
                    "retrain": None, "attempts": []}
    total = args.phase1 + args.phase2
    for i in range(total):
        drifting = drift and i >= args.phase1
        row = draw(pool, weights(cats, drifting), rng)
        text = user(row)
        answer, probs = scores.answer(text)
        rid = "chatcmpl-" + uuid.UUID(int=rng.getrandbits(128)).hex[:24]
        truth[rid] = label(row)
        if i >= sent:
            traffic.record(request_id=rid, endpoint="chat.completion", model="invoice", variant=version, status=200,
                           latency_ms=0.0, request={"model": "invoice", "messages": [{"role": "user", "content": text}]},
                           response={"id": rid, "choices": [{"index": 0, "message": {"role": "assistant",
                                                                                  "content": answer}}]},
                           label_probs=probs, confidence=probs[answer])
        if (i + 1) % args.check_every or i < sent:
            continue
        traffic.flush()
        # Reviewers look at the queue's first items (targeted + random) and give the true label.
        conn = traffic.conn
        reviewed = {r[0] for r in conn.execute("SELECT request_id FROM feedback")}
        pending = [r for r in load_rows(conn, [version], last=args.check_every) if r["request_id"] not in reviewed]
        store = FeedbackStore(traffic_path)
        for item in rank(pending, ref, args.reviews, 0.4, seed + i, second=second):
            store.add(item.request_id, correct_output=truth[item.request_id], source=f"review:{item.reason}")
        store.close()
        cycle = run_cycle("invoice", policy, score=False, allow_retrain=False, log=lambda m: None,
                          path=traffic_path, history=False)
        latest = cycle.summary["latest"]
        window_rows = load_rows(conn, [version], last=policy.window)
        true_acc = sum(truth[r["request_id"]] == json.loads(r["response_json"])["choices"][0]["message"]["content"]
                       for r in window_rows) / len(window_rows)
        adjusted = latest.get("estimated_accuracy_adjusted") or {}
        out["windows"].append({"after": i + 1, "estimated": latest["estimated_accuracy"]["value"],
                               "ci": latest["estimated_accuracy"]["ci"], "true": true_acc,
                               "adjusted": adjusted.get("value"), "adjusted_ci": adjusted.get("ci"),
                               "measured": latest["measured_accuracy"]["value"], "alerts": cycle.verdict.alerts})
        if cycle.verdict.alerts and out["first_alert_after"] is None:
            out["first_alert_after"] = i + 1
            out["alerts"] = cycle.verdict.alerts
            log(f"  seed {seed}: first alert after {i + 1} requests: {cycle.verdict.alerts}")
        if cycle.verdict.retrain:
            out["retrain"] = {"after": i + 1, "reason": cycle.verdict.reason, "alerts": cycle.verdict.alerts}
            if on_retrain is None:
                break
            attempt = on_retrain(out["retrain"])
            out["attempts"].append(attempt)
            if save:
                save(out)
            if attempt["promoted"]:
                break
        elif save:
            save(out)
    traffic.close()
    tracked = [w for w in out["windows"] if w["after"] >= policy.window]
    out["mae"] = sum(abs(w["estimated"] - w["true"]) for w in tracked) / len(tracked) if tracked else None
    # CBPE with the new category that random reviews found taken out (monitor/new_category.py)
    adj = [w for w in tracked if w.get("adjusted") is not None]
    out["mae_adjusted"] = sum(abs(w["adjusted"] - w["true"]) for w in adj) / len(adj) if adj else None
    return out


def record_served_answers(v1: dict, scores, frozen_rows: list[dict], work: Path) -> None:
    """With --answers tfidf the served system is the TF-IDF classifier, not version 1's LLM: its answers on the
    frozen set replace the variant's in a copy of version 1's eval.json, recorded in the registry, so that label
    drift is measured against what is actually served (monitor/reference.py reads them from there)."""
    from tuneforge.eval.eval_file import read_eval
    from tuneforge.registry.store import Registry

    report = read_eval(Path(v1["run"]) / "eval.json")
    system = report.default_system()
    served = {user(r): scores.answer(user(r))[0] for r in frozen_rows}
    for e in report.examples:
        e["predictions"][system] = served.get(e["input"], e["predictions"][system])
    path = work / "eval-served.json"
    path.write_text(json.dumps(report.raw))
    registry = Registry()
    registry.record_eval(v1["ref"], path)
    registry.close()


class State:
    """The benchmark's progress in `work/state.json`: each finished stage's results, written as soon as it ends."""

    def __init__(self, path: Path):
        self.path = path
        self.data = json.loads(path.read_text()) if path.is_file() else {}

    def get(self, key: str):
        return self.data.get(key)

    def put(self, key: str, value) -> None:
        self.data[key] = value
        self.path.write_text(json.dumps(self.data, indent=2, default=str))


def system_accuracy(report: dict, name: str = "fine-tuned") -> float:
    """Accuracy of the evaluated model in an eval.json: a classification variant is one system ("fine-tuned"), a
    generative one is also scored with label-constrained decoding ("fine-tuned (constrained)")."""
    systems = report["systems"]
    key = f"{name} (constrained)" if f"{name} (constrained)" in systems else name
    return systems[key]["metrics"]["accuracy"]


def paired_accuracy(before: list[bool], after: list[bool]) -> dict:
    """Accuracy of two versions on the same distinct inputs, each with a Wilson interval, and an exact McNemar
    test (a binomial test on the inputs only one of them got right)."""
    from tuneforge.eval.stats import mcnemar_exact
    from tuneforge.monitor.estimate import measured_accuracy

    test = mcnemar_exact(before, after)
    return {"n": len(before), "before": measured_accuracy(before), "after": measured_accuracy(after),
            "fixed": test["b_only"], "broken": test["a_only"], "mcnemar_p": test["p_value"]}


def mix_accuracy(correct_by_cat: dict[str, list[bool]], w: dict[str, float], seed: int = 0, rounds: int = 2000):
    """Expected accuracy on a stream with category mix `w`: the weighted mean of per-category accuracy on distinct
    lines, with a stratified bootstrap 95% interval (lines resampled within each category)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    cats = [c for c in w if correct_by_cat.get(c)]
    total = sum(w[c] for c in cats)
    arrays = {c: np.asarray(correct_by_cat[c], float) for c in cats}
    point = sum(w[c] * arrays[c].mean() for c in cats) / total
    draws = np.zeros(rounds)
    for c in cats:
        a = arrays[c]
        draws += w[c] * a[rng.integers(0, len(a), (rounds, len(a)))].mean(1)
    draws /= total
    return {"value": float(point), "ci": [float(np.quantile(draws, 0.025)), float(np.quantile(draws, 0.975))]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--real-model", action="store_true",
                    help="Version 1 and the retrain as `tuneforge train` builds them with no flags on the bundled "
                    "model (a classification variant), no step caps, answers by the served variant; resumable.")
    ap.add_argument("--epochs", type=int, default=None,
                    help="--real-model: set the recipe's epochs instead of the no-flag choice (a shorter run).")
    ap.add_argument("--classifier-layers", type=int, default=None,
                    help="--real-model: top layers trained (the no-flag choice is 8).")
    ap.add_argument("--train-steps", type=int, default=40)
    ap.add_argument("--retrain-steps", type=int, default=40)
    ap.add_argument("--per-class", type=int, default=30, help="Training lines per known category.")
    ap.add_argument("--stream-per-class", type=int, default=9,
                    help="Traffic lines per known category (0: every training-file line version 1 did not train on).")
    ap.add_argument("--line-order", choices=("file", "shuffled"), default="file",
                    help="Which lines of each category train version 1: the file's first --per-class (the earlier "
                    "rounds) or a seeded random sample (shuffled).")
    ap.add_argument("--frozen-per-class", type=int, default=9, help="Frozen evaluation lines per known category.")
    ap.add_argument("--keep-system", action="store_true", help="Keep the 71-token system prompt (3x the CPU).")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--answers", choices=("variant", "tfidf"), default="variant",
                    help="Who answers the traffic: the registered variant (label scoring), or a calibrated TF-IDF "
                    "classifier trained on the same rows (when the variant's base is too slow or too small to learn).")
    ap.add_argument("--phase1", type=int, default=200)
    ap.add_argument("--phase2", type=int, default=400)
    ap.add_argument("--check-every", type=int, default=25)
    ap.add_argument("--reviews", type=int, default=5, help="Items reviewed per check.")
    ap.add_argument("--window", type=int, default=100)
    ap.add_argument("--min-corrections", type=int, default=40)
    ap.add_argument("--min-fresh-inputs", type=int, default=None,
                    help="Policy min_fresh_inputs (default: the policy's, 77). The default stream repeats a pool of "
                    "138 distinct lines, 37 of them held out at fresh_share 0.3; --per-class 10 --stream-per-class 0 "
                    "offers 360 (107 held out). The log line says how many.")
    ap.add_argument("--fresh-share", type=float, default=None, help="Policy fresh_share (default: the policy's).")
    ap.add_argument("--seeds", type=int, default=5, help="Seeds for the no-drift and drift detection runs.")
    ap.add_argument("--live-seed", type=int, default=0,
                    help="Seed of the live stream (the one retrained on); a fresh --home for each.")
    ap.add_argument("--detection-only", action="store_true",
                    help="Stop after the no-drift and drift streams (false alarms, detection delay); no retrain.")
    ap.add_argument("--home", default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--base", default=None,
                    help="Base model of version 1 (default: none named, so `tuneforge train`'s no-flag rule picks it: "
                    "the fine-tuned sentence encoder for these short labelled lines; smollm2-135m for the decoder "
                    "head of the earlier rounds; a tiny test model checks the script fast).")
    args = ap.parse_args()
    if args.real_model:
        args.answers = "variant"

    home = Path(args.home or ("monitor-bench-home" if args.real_model else tempfile.mkdtemp(prefix="tf-monitor-bench-")))
    home = home.resolve()
    os.environ["TUNEFORGE_HOME"] = str(home)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    # The converted bundled model is shared with the user's own home (converting it again takes minutes).
    os.environ.setdefault("TUNEFORGE_CACHE", str(Path.home() / ".tuneforge" / "cache"))
    import torch

    torch.set_num_threads(args.threads)
    from tuneforge.config import EvalConfig, MonitorPolicy, TrainConfig
    from tuneforge.eval.compare import run_eval
    from tuneforge.monitor.retrain import retrain
    from tuneforge.registry.store import Registry
    from tuneforge.train.sft import train

    t0 = time.time()
    log = lambda m: print(f"[{time.time() - t0:6.0f}s] {m}", flush=True)  # noqa: E731
    data = ROOT / "examples" / "invoice-categories"
    rows, test = read(data / "train.jsonl"), read(data / "test.jsonl")
    if not args.keep_system:  # the label list in the system prompt is 3/4 of every prompt's tokens
        rows, test = ([{"messages": [m for m in r["messages"] if m["role"] != "system"]} for r in rs]
                      for rs in (rows, test))
    cats = sorted({label(r) for r in rows})
    by = {c: [r for r in rows if label(r) == c] for c in cats}
    if args.line_order == "shuffled":
        # Version 1's lines a seeded random sample of each category (the same for every --live-seed): the first
        # lines of the file are not a random sample of it (version 1 on the first 10 per category, unchanged
        # streams of the rest raised input-length alerts on 3 of 3 seeds), and the monitor's input-drift reference
        # is version 1's training lines.
        order = random.Random(0)
        by = {c: order.sample(by[c], len(by[c])) for c in cats}
    initial = [r for c in cats if c != NEW for r in by[c][: args.per_class]]
    pool = {c: (by[c] if c == NEW else by[c][args.per_class:][: args.stream_per_class or None]) for c in cats}
    after_pool = {c: [r for r in test if label(r) == c] for c in cats}
    work = home / "bench"
    work.mkdir(parents=True, exist_ok=True)
    state = State(work / "state.json")
    if state.get("args") and state.get("args") != vars(args):
        log(f"resuming {work} with other arguments than the run that began it: {state.get('args')}")
    state.put("args", vars(args))
    frozen = write(work / "frozen-eval.jsonl", [r for c in cats if c != NEW
                                                 for r in after_pool[c][: args.frozen_per_class]])
    write(work / "initial.jsonl", initial)

    v1 = state.get("v1")
    if v1 is None:
        recipe = dict(data=str(work / "initial.jsonl"), out=str(work / "run1"), progress=False, report_to="none",
                      seed=0, **({"base": args.base} if args.base else {}))
        if not args.real_model:  # the cheap mode caps steps; the real one trains as `tuneforge train` with no flags
            recipe.update(max_steps=args.train_steps, batch_size=args.batch_size, eval_split=0.05)
        recipe.update({k: getattr(args, k) for k in ("epochs", "classifier_layers") if getattr(args, k) is not None})
        log(f"training version 1 on {len(initial)} lines of {len(cats) - 1} categories")
        started = time.time()
        run1 = train(TrainConfig(**recipe), log=lambda m: None)
        train_s = time.time() - started
        log(f"evaluating version 1 on the frozen set ({train_s:.0f} s of training)")
        report = run_eval(EvalConfig(model=str(run1), data=str(frozen), baselines=False, bootstrap=200, html="none",
                                     max_new_tokens=12), log=lambda m: None)
        registry = Registry()
        v = registry.register(run1, "invoice")
        registry.promote(v.ref, "production", require_gate=False, note="first deployment (benchmark)")
        registry.close()
        run_json = json.loads((Path(run1) / "run.json").read_text())
        v1 = {"ref": v.ref, "run": str(run1), "frozen_accuracy": system_accuracy(report), "train_s": round(train_s),
              "variant_type": run_json.get("variant_type", "generative"), "steps": run_json["metrics"].get("steps"),
              "epochs": run_json["config"].get("epochs")}
        state.put("v1", v1)
    frozen_acc = v1["frozen_accuracy"]
    log(f"{v1['ref']} in production ({v1['variant_type']}, {v1['steps']} steps); frozen-set accuracy {frozen_acc:.3f}")

    policy = MonitorPolicy(window=args.window, min_estimated_accuracy=round(max(frozen_acc - 0.15, 0.05), 2),
                           max_label_drift=0.2, drift_p_value=0.001, max_input_psi=0.5, max_domain_auc=0.8,
                           min_corrections=args.min_corrections,
                           **{k: getattr(args, k) for k in ("min_fresh_inputs", "fresh_share")
                              if getattr(args, k) is not None},
                           retrain_max_steps=0 if args.real_model else args.retrain_steps, non_inferiority=0.08,
                           gate_metric="accuracy", gate_confidence=0.95)
    frozen_rows = read(frozen)
    from tuneforge.monitor.request_inputs import is_held_out

    distinct = {user(r) for c in cats for r in pool[c]}
    log(f"the stream's pool: {len(distinct)} distinct inputs, {sum(is_held_out(t, policy.fresh_share) for t in distinct)} "
        f"of them on the held-out side at fresh_share {policy.fresh_share} (the most fresh traffic can ever hold); "
        f"min_fresh_inputs {policy.min_fresh_inputs}")
    needed = [user(r) for c in cats for r in pool[c]] + [user(r) for r in test]
    if args.answers == "variant":
        scores1 = CachedScores(v1["ref"], work / "scores-v1.json")
    else:
        scores1 = TfidfScores(initial, frozen_rows)
    scores1.warm(needed)
    if args.answers == "tfidf":
        frozen_acc = sum(scores1.answer(user(r))[0] == label(r) for r in frozen_rows) / len(frozen_rows)
        policy.min_estimated_accuracy = round(max(frozen_acc - 0.15, 0.05), 2)
        results_note = f"answers by TF-IDF + logistic regression, frozen-set accuracy {frozen_acc:.3f}"
    else:
        results_note = f"answers by {v1['ref']} ({v1['variant_type']} variant)"
    log(f"scored {len(scores1.cache)} distinct inputs ({results_note}); policy {policy.model_dump()}")
    if args.answers == "tfidf":
        record_served_answers(v1, scores1, frozen_rows, work)
    from tuneforge.monitor.reference import load_reference

    label_reference = load_reference(v1["ref"]).label_reference_name
    log(f"label drift reference: {label_reference}")

    results = {"policy": policy.model_dump(), "v1": v1, "answers": results_note, "label_reference": label_reference}
    for kind, drift in (("no_drift", False), ("drift", True)):
        results[kind] = []
        for seed in range(1, args.seeds + 1):
            key = f"{kind}-{seed}"
            if state.get(key) is None:
                db = work / f"{key}.db"
                for stale in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
                    stale.unlink(missing_ok=True)  # a stream stopped half-way starts again (its SQLite journal too)
                state.put(key, simulate(args, scores1, v1["ref"], pool, drift, seed, db, policy, log))
            results[kind].append(state.get(key))
    false_alarms = sum(r["retrain"] is not None for r in results["no_drift"])
    any_alert = sum(r["first_alert_after"] is not None for r in results["no_drift"])
    delays = [r["first_alert_after"] - args.phase1 for r in results["drift"]
              if r["first_alert_after"] is not None and r["first_alert_after"] > args.phase1]
    early = sum(r["first_alert_after"] is not None and r["first_alert_after"] <= args.phase1 for r in results["drift"])
    log(f"no drift: {false_alarms}/{args.seeds} streams would retrain, {any_alert}/{args.seeds} raised any alert")
    log(f"drift: alert after {delays} requests past the shift ({early} alerted before it)")
    if args.detection_only:
        results["summary"] = {"false_alarm_retrains": f"{false_alarms}/{args.seeds}",
                              "estimate_mae": {k: [[round(r[m], 4) if r.get(m) is not None else None
                                                    for m in ("mae", "mae_adjusted")] for r in results[k]]
                                               for k in ("no_drift", "drift")},
                              "no_drift_any_alert": f"{any_alert}/{args.seeds}", "detection_delay_requests": delays,
                              "alerted_before_shift": early, "label_reference": label_reference,
                              "wall_s_this_call": round(time.time() - t0)}
        (work / "results.json").write_text(json.dumps(results, indent=2, default=str))
        print(json.dumps(results["summary"], indent=2, default=str))
        return 0

    # The loop closed on the live traffic log (seed --live-seed): the same drifted stream, reviewers' corrections,
    # and a retrain each time the policy fires, until the gate promotes one.
    def attempt(trigger: dict) -> dict:
        started = time.time()
        log(f"retrain triggered after {trigger['after']} requests: {trigger['reason']}")
        res = retrain("invoice", policy, log=log, reason="; ".join(trigger["alerts"]))
        done = {"after": trigger["after"], "trigger_reason": trigger["reason"], "new": res.new_ref, "promoted": res.promoted, "gates": res.gates,
                "dataset": res.dataset, "data": res.report["data"], "fresh_reviewed": res.report["fresh_reviewed"],
                "why": res.report["why"], "report": str(res.folder / "report.md"),
                "wall_s": round(time.time() - started)}
        # What the gate had to go on: the new category's share of the fresh reviewed traffic and of the data.
        fresh_rows = read(res.folder / "fresh-reviewed.jsonl")
        data_rows = read(res.folder / "data.jsonl")
        done["fresh_new_category"] = sum(label(r) == NEW for r in fresh_rows)
        done["data_new_category"] = sum(label(r) == NEW for r in data_rows)
        log(f"retrain: {done['new']} promoted={done['promoted']}; " + " | ".join(done["why"]))
        return done

    live = state.get("live")
    if live is None or not live.get("finished"):
        if live is None:
            for leftover in home.glob("traffic.db*"):
                leftover.unlink()
        live = simulate(args, scores1, v1["ref"], pool, True, args.live_seed, home / "traffic.db", policy, log,
                        on_retrain=attempt, saved=live, save=lambda out: state.put("live", out))
        live["finished"] = True
        state.put("live", live)
    results["live"] = live
    promoted = [a for a in live["attempts"] if a["promoted"]]
    if not promoted:
        log(f"no retrain was promoted ({len(live['attempts'])} attempts)")
        (work / "results.json").write_text(json.dumps(results, indent=2, default=str))
        return 1
    done = promoted[0]
    results["retrain_result"] = done

    # Accuracy on never-seen test lines (test.jsonl), before (v1) and after (the retrained version).
    rng = random.Random(99)
    after_stream = [draw(after_pool, weights(cats, True), rng) for _ in range(args.phase2)]
    if args.answers == "variant":
        scores2 = CachedScores(done["new"], work / "scores-v2.json")
    else:  # the same classifier refitted on the dataset version the retrain built (previous data + corrections)
        from tuneforge.data.versions import resolve_data_path

        scores2 = TfidfScores(read(resolve_data_path(done["dataset"])[0]), frozen_rows)
    scores2.warm([user(r) for r in test])
    right = lambda s, r: s.answer(user(r))[0] == label(r)  # noqa: E731
    acc_before = sum(right(scores1, r) for r in after_stream) / len(after_stream)
    acc_after = sum(right(scores2, r) for r in after_stream) / len(after_stream)
    by_cat = {c: [[right(s, r) for r in after_pool[c]] for s in (scores1, scores2)] for c in cats}
    drifted_mix = weights(cats, True)
    results["after_by_category"] = {c: [round(sum(v) / len(v), 3) for v in by_cat[c]] for c in cats}
    results["after"] = {
        "stream": len(after_stream), "accuracy_before": acc_before, "accuracy_after": acc_after,
        "served_after": Registry().get("invoice@production").ref,
        "drifted_mix_before": mix_accuracy({c: v[0] for c, v in by_cat.items()}, drifted_mix),
        "drifted_mix_after": mix_accuracy({c: v[1] for c, v in by_cat.items()}, drifted_mix),
        "all_test_lines": paired_accuracy([right(scores1, r) for r in test], [right(scores2, r) for r in test]),
        "new_category_lines": paired_accuracy(by_cat[NEW][0], by_cat[NEW][1]),
        "old_category_lines": paired_accuracy([x for c in cats if c != NEW for x in by_cat[c][0]],
                                              [x for c in cats if c != NEW for x in by_cat[c][1]]),
    }
    a = results["after"]
    log(f"drifted test stream ({len(after_stream)} requests): accuracy {acc_before:.3f} with {v1['ref']} -> "
        f"{acc_after:.3f} with {done['new']} (promoted: {done['promoted']}); drifted mix on distinct lines "
        f"{a['drifted_mix_before']['value']:.3f} {a['drifted_mix_before']['ci']} -> "
        f"{a['drifted_mix_after']['value']:.3f} {a['drifted_mix_after']['ci']}; McNemar p on all {len(test)} test "
        f"lines {a['all_test_lines']['mcnemar_p']:.2g}")
    maes = [r["mae"] for r in results["drift"] + results["no_drift"] if r["mae"] is not None]
    results["summary"] = {
        "false_alarm_retrains": f"{false_alarms}/{args.seeds}", "no_drift_any_alert": f"{any_alert}/{args.seeds}",
        "detection_delay_requests": delays, "alerted_before_shift": early,
        "estimate_mae_drift": [round(r["mae"], 4) for r in results["drift"] if r["mae"] is not None],
        "estimate_mae_no_drift": [round(r["mae"], 4) for r in results["no_drift"] if r["mae"] is not None],
        "estimate_mae_mean": sum(maes) / len(maes) if maes else None,
        "live_seed": args.live_seed, "live_first_alert_after": live["first_alert_after"],
        "live_first_alerts": live["alerts"], "live_estimate_mae": live.get("mae"),
        "live_estimate_mae_adjusted": live.get("mae_adjusted"),
        "retrain_attempts": [{k: a.get(k) for k in ("after", "new", "promoted", "fresh_reviewed", "fresh_new_category",
                                                    "data_new_category", "wall_s", "why")}
                             for a in live["attempts"]],
        "promoted": done["promoted"], "accuracy_before": acc_before, "accuracy_after": acc_after,
        "drifted_mix_before": a["drifted_mix_before"], "drifted_mix_after": a["drifted_mix_after"],
        "new_category": a["new_category_lines"], "old_categories": a["old_category_lines"],
        "all_test_lines": a["all_test_lines"], "wall_s_this_call": round(time.time() - t0),
    }
    (work / "results.json").write_text(json.dumps(results, indent=2, default=str))
    print(json.dumps(results["summary"], indent=2, default=str))
    log(f"details: {work / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
