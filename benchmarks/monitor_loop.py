"""The maintenance cycle on a real labelled task: drift is detected, the label-free accuracy estimate tracks the
truth, reviewers' corrections trigger a retrain that passes the gate, and accuracy on the new traffic comes back.

Task: examples/invoice-categories. The first version is trained on 11 of the 12 categories (30 lines each;
`bank_fees` is held back). Traffic is drawn from lines no version trained on:
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


class TfidfScores:
    """A served classifier whose probabilities are cheap: TF-IDF + logistic regression on the same training rows,
    calibrated by the monitor's own temperature fit on the frozen set (--answers tfidf)."""

    def __init__(self, train_rows: list[dict], frozen_rows: list[dict]):
        import numpy as np
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline

        from tuneforge.monitor.estimate import fit_temperature

        self.model = make_pipeline(TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True),
                                   LogisticRegression(max_iter=2000))
        self.model.fit([user(r) for r in train_rows], [label(r) for r in train_rows])
        self.labels = list(self.model.classes_)
        known = [r for r in frozen_rows if label(r) in self.labels]
        logp = np.log(np.clip(self.model.predict_proba([user(r) for r in known]), 1e-12, None))
        self.temperature = fit_temperature(logp.tolist(), [self.labels.index(label(r)) for r in known])
        self.cache: dict[str, dict[str, float]] = {}

    def warm(self, texts: list[str]) -> None:
        import numpy as np

        from tuneforge.monitor.estimate import softmax

        todo = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if todo:
            logp = np.log(np.clip(self.model.predict_proba(todo), 1e-12, None))
            for t, row in zip(todo, logp.tolist()):
                self.cache[t] = dict(zip(self.labels, softmax(row, self.temperature)))

    def answer(self, text: str) -> tuple[str, dict[str, float]]:
        self.warm([text])
        p = self.cache[text]
        return max(p, key=p.get), p


def simulate(args, scores: Scores, version: str, pool, drift: bool, seed: int, traffic_path: Path, policy,
             retrain_on_fire: bool, log) -> dict:
    from tuneforge.monitor.cycle import run_cycle
    from tuneforge.monitor.feedback import FeedbackStore
    from tuneforge.monitor.reference import load_reference
    from tuneforge.monitor.review_queue import SecondOpinion, rank
    from tuneforge.monitor.summary import load_rows
    from tuneforge.monitor.traffic_log import TrafficLog

    rng = random.Random(seed)
    cats = sorted(pool)
    traffic = TrafficLog(traffic_path)
    ref = load_reference(version)
    second = SecondOpinion(ref)
    truth: dict[str, str] = {}
    out = {"seed": seed, "drift": drift, "first_alert_after": None, "alerts": [], "windows": [], "retrain": None}
    total = args.phase1 + args.phase2
    for i in range(total):
        drifting = drift and i >= args.phase1
        row = draw(pool, weights(cats, drifting), rng)
        text = user(row)
        answer, probs = scores.answer(text)
        rid = "chatcmpl-" + uuid.UUID(int=rng.getrandbits(128)).hex[:24]
        truth[rid] = label(row)
        traffic.record(request_id=rid, endpoint="chat.completion", model="invoice", variant=version, status=200,
                       latency_ms=0.0, request={"model": "invoice", "messages": [{"role": "user", "content": text}]},
                       response={"id": rid, "choices": [{"index": 0, "message": {"role": "assistant",
                                                                              "content": answer}}]},
                       label_probs=probs, confidence=probs[answer])
        if (i + 1) % args.check_every:
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
        out["windows"].append({"after": i + 1, "estimated": latest["estimated_accuracy"]["value"],
                               "ci": latest["estimated_accuracy"]["ci"], "true": true_acc,
                               "measured": latest["measured_accuracy"]["value"], "alerts": cycle.verdict.alerts})
        if cycle.verdict.alerts and out["first_alert_after"] is None:
            out["first_alert_after"] = i + 1
            out["alerts"] = cycle.verdict.alerts
            log(f"  seed {seed}: first alert after {i + 1} requests: {cycle.verdict.alerts}")
        if cycle.verdict.retrain:
            out["retrain"] = {"after": i + 1, "reason": cycle.verdict.reason}
            break
    traffic.close()
    tracked = [w for w in out["windows"] if w["after"] >= policy.window]
    out["mae"] = sum(abs(w["estimated"] - w["true"]) for w in tracked) / len(tracked) if tracked else None
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train-steps", type=int, default=40)
    ap.add_argument("--retrain-steps", type=int, default=40)
    ap.add_argument("--per-class", type=int, default=30, help="Training lines per known category.")
    ap.add_argument("--stream-per-class", type=int, default=9, help="Traffic lines per known category.")
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
    ap.add_argument("--seeds", type=int, default=5, help="Seeds for the no-drift and drift detection runs.")
    ap.add_argument("--home", default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--base", default="smollm2-135m", help="Base model (a tiny test model checks the script fast).")
    args = ap.parse_args()

    home = Path(args.home or tempfile.mkdtemp(prefix="tf-monitor-bench-"))
    os.environ["TUNEFORGE_HOME"] = str(home)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    # The converted bundled model is shared with the user's own home (converting it again takes minutes).
    os.environ.setdefault("TUNEFORGE_CACHE", str(Path.home() / ".tuneforge" / "cache"))
    import torch

    torch.set_num_threads(args.threads)
    from tuneforge.config import EvalConfig, MonitorPolicy, TrainConfig
    from tuneforge.eval.compare import run_eval
    from tuneforge.monitor.reference import load_reference
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
    initial = [r for c in cats if c != NEW for r in by[c][: args.per_class]]
    pool = {c: (by[c] if c == NEW else by[c][args.per_class:][: args.stream_per_class]) for c in cats}
    after_pool = {c: [r for r in test if label(r) == c] for c in cats}
    work = home / "bench"
    work.mkdir(parents=True, exist_ok=True)
    frozen = write(work / "frozen-eval.jsonl", [r for c in cats if c != NEW
                                                 for r in after_pool[c][: args.frozen_per_class]])
    write(work / "initial.jsonl", initial)

    log(f"training version 1 on {len(initial)} lines of {len(cats) - 1} categories ({args.train_steps} steps)")
    run1 = train(TrainConfig(data=str(work / "initial.jsonl"), out=str(work / "run1"), max_steps=args.train_steps,
                             progress=False, report_to="none", seed=0, base=args.base,
                             batch_size=args.batch_size, eval_split=0.05), log=lambda m: None)
    log("evaluating version 1 on the frozen set")
    report = run_eval(EvalConfig(model=str(run1), data=str(frozen), baselines=False, bootstrap=200, html="none",
                                 max_new_tokens=12),
                      log=lambda m: None)
    frozen_acc = report["systems"]["fine-tuned (constrained)"]["metrics"]["accuracy"]
    registry = Registry()
    v1 = registry.register(run1, "invoice")
    registry.promote(v1.ref, "production", require_gate=False, note="first deployment (benchmark)")
    registry.close()
    log(f"{v1.ref} in production; frozen-set accuracy (label scoring) {frozen_acc:.3f}")

    policy = MonitorPolicy(window=args.window, min_estimated_accuracy=round(max(frozen_acc - 0.15, 0.05), 2),
                           max_label_drift=0.2, drift_p_value=0.001, max_input_psi=0.5, max_domain_auc=0.8,
                           min_corrections=40, retrain_max_steps=args.retrain_steps, non_inferiority=0.08,
                           gate_metric="accuracy", gate_confidence=0.95)
    log(f"policy: {policy.model_dump()}")
    frozen_rows = read(frozen)
    scores1 = Scores(load_reference(v1.ref)) if args.answers == "variant" else TfidfScores(initial, frozen_rows)
    scores1.warm([user(r) for c in cats for r in pool[c]] + [user(r) for r in test])
    if args.answers == "tfidf":
        frozen_acc = sum(scores1.answer(user(r))[0] == label(r) for r in frozen_rows) / len(frozen_rows)
        policy.min_estimated_accuracy = round(max(frozen_acc - 0.15, 0.05), 2)
        results_note = f"answers by TF-IDF + logistic regression, frozen-set accuracy {frozen_acc:.3f}"
    else:
        results_note = f"answers by {v1.ref} label scoring"
    log(f"scored {len(scores1.cache)} distinct inputs ({results_note}); policy min_estimated_accuracy "
        f"{policy.min_estimated_accuracy}")

    results = {"policy": policy.model_dump(), "frozen_accuracy_v1": frozen_acc, "answers": results_note,
               "no_drift": [], "drift": []}
    for seed in range(1, args.seeds + 1):
        results["no_drift"].append(simulate(args, scores1, v1.ref, pool, False, seed, work / f"nodrift-{seed}.db",
                                            policy, False, log))
        results["drift"].append(simulate(args, scores1, v1.ref, pool, True, seed, work / f"drift-{seed}.db",
                                         policy, False, log))
    false_alarms = sum(r["retrain"] is not None for r in results["no_drift"])
    any_alert = sum(r["first_alert_after"] is not None for r in results["no_drift"])
    delays = [r["first_alert_after"] - args.phase1 for r in results["drift"]
              if r["first_alert_after"] is not None and r["first_alert_after"] > args.phase1]
    early = sum(r["first_alert_after"] is not None and r["first_alert_after"] <= args.phase1 for r in results["drift"])
    log(f"no drift: {false_alarms}/{args.seeds} streams would retrain, {any_alert}/{args.seeds} raised any alert")
    log(f"drift: alert after {delays} requests past the shift ({early} alerted before it)")

    # The loop closed once on the live traffic log (seed 0): the same stream, corrections, then retrain.
    live = simulate(args, scores1, v1.ref, pool, True, 0, home / "traffic.db", policy, True, log)
    results["live"] = live
    if live["retrain"] is None:
        log("the policy did not call for a retrain on the drifted stream")
        print(json.dumps(results, indent=2, default=str))
        return 1
    log(f"retrain triggered after {live['retrain']['after']} requests: {live['retrain']['reason']}")
    res = retrain("invoice", policy, log=log, reason="; ".join(live["alerts"]))
    results["retrain_result"] = {"new": res.new_ref, "promoted": res.promoted, "gates": res.gates,
                                 "dataset": res.dataset, "report": str(res.folder / "report.md")}
    # Accuracy on the drifted mix of never-seen test lines, before (v1) and after (the new version).
    rng = random.Random(99)
    after_stream = [draw(after_pool, weights(cats, True), rng) for _ in range(args.phase2)]
    acc_before = sum(scores1.answer(user(r))[0] == label(r) for r in after_stream) / len(after_stream)
    if args.answers == "variant":
        scores2 = Scores(load_reference(res.new_ref))
    else:  # the same classifier refitted on the dataset version the retrain built (previous data + corrections)
        from tuneforge.data.versions import resolve_data_path

        scores2 = TfidfScores(read(resolve_data_path(res.dataset)[0]), frozen_rows)
    scores2.warm([user(r) for r in after_stream])
    acc_after = sum(scores2.answer(user(r))[0] == label(r) for r in after_stream) / len(after_stream)
    results["after_by_category"] = {c: [round(sum(s.answer(user(r))[0] == c for r in after_pool[c]) / len(after_pool[c]), 3)
                                        for s in (scores1, scores2)] for c in cats}
    results["after"] = {"stream": len(after_stream), "accuracy_before": acc_before, "accuracy_after": acc_after,
                        "served_after": Registry().get("invoice@production").ref}
    log(f"drifted test stream ({len(after_stream)} requests): accuracy {acc_before:.3f} with {v1.ref} -> "
        f"{acc_after:.3f} with {res.new_ref} (promoted: {res.promoted})")
    maes = [r["mae"] for r in results["drift"] + results["no_drift"] if r["mae"] is not None]
    results["summary"] = {
        "false_alarm_retrains": f"{false_alarms}/{args.seeds}", "no_drift_any_alert": f"{any_alert}/{args.seeds}",
        "detection_delay_requests": delays, "alerted_before_shift": early,
        "estimate_mae_drift": [round(r["mae"], 4) for r in results["drift"] if r["mae"] is not None],
        "estimate_mae_no_drift": [round(r["mae"], 4) for r in results["no_drift"] if r["mae"] is not None],
        "estimate_mae_mean": sum(maes) / len(maes) if maes else None,
        "promoted": res.promoted, "accuracy_before": acc_before, "accuracy_after": acc_after,
        "wall_s": round(time.time() - t0),
    }
    (work / "results.json").write_text(json.dumps(results, indent=2, default=str))
    print(json.dumps(results["summary"], indent=2, default=str))
    log(f"details: {work / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
