"""Speed must not cost accuracy: tuneforge's generative trainer at plain TRL's settings, beside plain TRL, over seeds.

For one task of benchmarks/tasks.py it makes task_quality.py's seeded train/test split (seed 42), then for each
training seed trains

- plain TRL `SFTTrainer` + PEFT LoRA exactly as task_quality.py does (`train_trl`: r=16, alpha 32, dropout 0.05,
  all linear layers, 2 epochs, lr 2e-4, batch 8, linear schedule, no warm-up, fp32, answer-only loss, every row);
- tuneforge's generative trainer (`tuneforge.train.sft.train`) at the same settings: the same LoRA, epochs, lr,
  batch, schedule and warm-up, no held-out split (every row trained), fp32, the same seed, with its speed-ups
  (answer-only vocabulary projection, shared-prompt-prefix batching) left on, as a user gets them;

and scores each adapter on the test rows with `tuneforge eval` (accuracy for classification, field F1 for
extraction; free decoding for labels, JSON with the training keys for extraction, as eval does for every
variant). It prints per trainer the scores, their mean, min-max and standard deviation over the seeds, and the
training wall time of both (the ratio TRL / tuneforge). `--set KEY=VALUE` changes one tuneforge setting (an
ablation: `--set precision=bf16`, `--set share_prefix=false`, ...); `--trainers tuneforge` skips TRL.

    python benchmarks/trl_parity.py --task chatterbot-topics-es --seeds 1,2,3
    python benchmarks/trl_parity.py --task quantities-en --seeds 1,2,3 --trainers tuneforge --set precision=bf16

Results accumulate in --work/results.json (one entry per trainer and seed; a finished entry is not run again), so
an interrupted run continues where it stopped. Wall times are whatever the machine gave: run it alone (one
thread) when the ratio matters, and take the speed claim from benchmarks/train_throughput.py.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import task_quality  # noqa: E402
from tasks import TASKS  # noqa: E402

TRAINERS = ("trl", "tuneforge")


def trl_settings_config(train_file: Path, out: Path, seed: int, base: str, overrides: dict):
    """tuneforge's TrainConfig at task_quality's TRL settings. Every field is given, so no default is chosen from
    the data (train/defaults.py leaves given fields alone)."""
    from tuneforge.config import TrainConfig

    s = task_quality.TRL
    fields = dict(
        data=str(train_file), base=base, out=str(out), overwrite=True, variant_type="generative", method="lora",
        lora_r=s["r"], lora_alpha=s["alpha"], lora_dropout=s["dropout"], lora_targets="all-linear",
        epochs=s["epochs"], lr=s["lr"], batch_size=s["batch"], grad_accum=1, schedule="linear", warmup_ratio=0.0,
        weight_decay=0.0, max_grad_norm=1.0, max_seq_len=1024, eval_split=0.0, precision="fp32", seed=seed,
        progress=False, report_to="none", keep_checkpoints=1,
    )
    return TrainConfig(**{**fields, **overrides})


def train_tuneforge_at_trl(train_file: Path, out: Path, seed: int, base: str, overrides: dict) -> float:
    from tuneforge.train.sft import train

    cfg = trl_settings_config(train_file, out, seed, base, overrides)
    t0 = time.perf_counter()
    train(cfg, log=lambda *_: None)
    return time.perf_counter() - t0


def score(model: Path, train_file: Path, test_file: Path, limit: int | None) -> dict:
    """The adapter's headline metrics on the test rows, by `tuneforge eval` (no baselines)."""
    from tuneforge.config import EvalConfig
    from tuneforge.eval.compare import run_eval

    cfg = EvalConfig(model=str(model), eval_data=str(test_file), train_data=str(train_file), limit=limit,
                     baselines=False, classical=False, constrained=False, out=str(model / "eval.json"), html="none")
    report = run_eval(cfg, log=lambda *_: None)
    system = next(s for s in report["systems"].values())
    return {"task": report["task"], "n": system["n"], "metrics": system["metrics"]}


def test_loss(model: Path, test_file: Path, base: str, limit: int | None) -> float:
    """Mean answer-token loss of the adapter on the test rows (train_throughput's scorer, one for both trainers):
    a continuous measure that still separates two adapters whose answers are the same labels."""
    from train_throughput import held_out_loss

    return held_out_loss(base, str(model), limit, test_file)


def headline(task_type: str) -> str:
    return "field_f1" if task_type == "extraction" else "accuracy"


def spread(values: list[float]) -> dict:
    return {"mean": statistics.fmean(values), "min": min(values), "max": max(values),
            "sd": statistics.stdev(values) if len(values) > 1 else 0.0, "n": len(values)}


def summarise(results: dict, trainers: list[str], seeds: list[int]) -> str:
    done = {t: [results[f"{t}-{s}"] for s in seeds if f"{t}-{s}" in results] for t in trainers}
    if not any(done.values()):
        return "nothing trained yet"
    metric = headline(next(r for rs in done.values() for r in rs)["task"])
    lines = [f"| trainer | {metric} per seed | mean | min–max | sd | test answer loss, mean (min–max) | train s (mean) |",
             "| --- | --- | --: | --: | --: | --: | --: |"]
    stats = {}
    for t, rows in done.items():
        if not rows:
            continue
        vals = [r["metrics"][metric] for r in rows]
        st = stats[t] = {**spread(vals), "train_s": statistics.fmean(r["train_s"] for r in rows)}
        per_seed = ", ".join(f"{100 * v:.1f}" for v in vals)
        losses = [r["test_loss"] for r in rows if "test_loss" in r]
        loss = f"{statistics.fmean(losses):.4f} ({min(losses):.4f}–{max(losses):.4f})" if losses else "–"
        lines.append(f"| {t} | {per_seed} | {100 * st['mean']:.1f}% | {100 * st['min']:.1f}–{100 * st['max']:.1f} | "
                     f"{100 * st['sd']:.1f} | {loss} | {st['train_s']:.0f} |")
    mine = next((t for t in stats if t != "trl"), None)
    if "trl" in stats and mine:
        tf, trl = stats[mine], stats["trl"]
        where = "BELOW" if tf["mean"] < trl["min"] else ("above" if tf["mean"] > trl["max"] else "within")
        lines.append(f"\n{mine} − TRL: {100 * (tf['mean'] - trl['mean']):+.1f} points (TRL's seeds span "
                     f"{100 * trl['min']:.1f}–{100 * trl['max']:.1f}, sd {100 * trl['sd']:.1f}): the mean is "
                     f"{where} TRL's run-to-run range; training wall time TRL / {mine} "
                     f"{trl['train_s'] / tf['train_s']:.2f}x")
    return "\n".join(lines)


def parse_set(items: list[str]) -> dict:
    from tuneforge.config import TrainConfig

    out = {}
    for item in items:
        key, _, value = item.partition("=")
        if key not in TrainConfig.model_fields:
            raise SystemExit(f"--set {item}: {key!r} is not a training setting")
        out[key] = {"true": True, "false": False}.get(value.lower(), value)  # pydantic converts numbers
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--task", required=True, choices=sorted(TASKS))
    ap.add_argument("--seeds", default="1,2,3", help="training seeds (the split is always task_quality's seed 42)")
    ap.add_argument("--trainers", default=",".join(TRAINERS), help="comma-separated subset of trl, tuneforge")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="change one tuneforge training setting (ablation); repeatable")
    ap.add_argument("--train-limit", type=int, help="a seeded sample of N training rows (as task_quality.py)")
    ap.add_argument("--test-share", type=float, default=0.2)
    ap.add_argument("--limit", type=int, help="score only the first N test rows")
    ap.add_argument("--base", default=task_quality.BASE)
    ap.add_argument("--work", help="folder for the split, the runs and results.json (default /tmp/trl-parity/TASK)")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    trainers = [t.strip() for t in args.trainers.split(",") if t.strip()]
    if set(trainers) - set(TRAINERS):
        raise SystemExit(f"--trainers: choose from {', '.join(TRAINERS)}")
    overrides = parse_set(args.set)
    # An ablation's runs are kept apart from the plain ones: "tuneforge[precision=bf16]-1", not "tuneforge-1".
    label = {"trl": "trl", "tuneforge": "tuneforge" + (
        "[" + ",".join(f"{k}={v}" for k, v in overrides.items()) + "]" if overrides else "")}
    task_quality.BASE = args.base  # train_trl reads the module's base
    work = Path(args.work or f"/tmp/trl-parity/{args.task}")
    train_file, test_file, n_train, n_test = task_quality.make_split(args.task, work, args.test_share, args.train_limit)
    print(f"{args.task}: {n_train} train / {n_test} test rows (split seed {task_quality.SEED}); seeds {seeds}; "
          f"tuneforge overrides {overrides or 'none'}; work folder {work}", flush=True)
    path = work / "results.json"
    results = json.loads(path.read_text()) if path.is_file() else {}
    for seed in seeds:
        for trainer in trainers:
            key = f"{label[trainer]}-{seed}"
            if key in results:
                continue
            out = work / key
            if trainer == "trl":
                seconds = task_quality.train_trl(train_file, out, seed)
            else:
                seconds = train_tuneforge_at_trl(train_file, out, seed, args.base, overrides)
            results[key] = {**score(out, train_file, test_file, args.limit), "train_s": seconds, "seed": seed,
                            "overrides": overrides if trainer == "tuneforge" else {}}
            results[key]["test_loss"] = test_loss(out, test_file, args.base, args.limit)
            m = results[key]["metrics"]
            print(f"{key}: {headline(results[key]['task'])} {m[headline(results[key]['task'])]:.3f}, "
                  f"train {seconds:.0f} s", flush=True)
            path.write_text(json.dumps(results, indent=1), encoding="utf-8")
    for key, entry in results.items():  # runs recorded before the test loss was
        if "test_loss" not in entry and (work / key / "adapter_config.json").is_file():
            entry["test_loss"] = test_loss(work / key, test_file, args.base, args.limit)
            path.write_text(json.dumps(results, indent=1), encoding="utf-8")
    md = summarise(results, [label[t] for t in trainers], seeds)
    (work / "table.md").write_text(md + "\n", encoding="utf-8")
    print(f"\n{args.task}: {n_train} train / {n_test} test rows; machine: {task_quality.machine()}")
    print(f"command: {' '.join(sys.argv)}\n{md}")


if __name__ == "__main__":
    main()
