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

A third trainer, `noflag`, is `tuneforge train TRAIN` with no option at all (only the seed and `--set`): every
setting is chosen from the data as a user gets it (its choices are recorded in results.json). With `--set
precision=bf16` and `--set precision=fp32` it measures what the CPU precision default costs or gains.

Headline metric by task type: accuracy (classification), field F1 (extraction; valid-JSON rate beside it),
ROUGE-L (free text; chrF beside it). `--train FILE --test FILE` replaces the task's split by two given files (the
invoice demo); `--task` then only names the work folder.

    python benchmarks/trl_parity.py --task chatterbot-topics-es --seeds 1,2,3
    python benchmarks/trl_parity.py --task quantities-en --seeds 1,2,3 --trainers tuneforge --set precision=bf16
    python benchmarks/trl_parity.py --task quantities-en --trainers noflag --set precision=fp32 --reference noflag[precision=bf16]
    python benchmarks/trl_parity.py --task invoice-categories --train examples/invoice-categories/train.jsonl \
        --test examples/invoice-categories/test.jsonl

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
from adapter_scores import held_out_loss, score  # noqa: E402
from tasks import TASKS  # noqa: E402

TRAINERS = ("trl", "tuneforge", "noflag")
# Headline and second metric per task type (eval/tasks/*: HEADLINE).
METRICS = {"classification": ("accuracy", "macro_f1"), "extraction": ("field_f1", "valid_json"),
           "text": ("rouge_l", "chrf"), "structured": ("rouge_l", "chrf")}


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


def train_tuneforge_noflag(train_file: Path, out: Path, seed: int, overrides: dict) -> tuple[float, list[str]]:
    """`tuneforge train TRAIN --seed SEED` plus the `--set` overrides: every other setting chosen from the data
    (train/defaults.py). Returns the wall time and the printed choices ("chose ...")."""
    from tuneforge.config import TrainConfig
    from tuneforge.train.sft import train

    said: list[str] = []
    cfg = TrainConfig(data=str(train_file), out=str(out), overwrite=True, seed=seed, progress=False,
                      report_to="none", **overrides)
    t0 = time.perf_counter()
    train(cfg, log=lambda line, *_: said.append(str(line)))
    return time.perf_counter() - t0, [line for line in said if line.startswith(("chose ", "model: "))]


def test_loss(model: Path, test_file: Path, base: str, limit: int | None) -> float:
    """Mean answer-token loss of the adapter on the test rows (adapter_scores.py's, one scorer for both trainers):
    a continuous measure that still separates two adapters whose answers are the same labels."""
    return held_out_loss(base, str(model), limit, test_file)


def headline(task_type: str) -> str:
    return METRICS.get(task_type, METRICS["classification"])[0]


def second(task_type: str) -> str:
    return METRICS.get(task_type, METRICS["classification"])[1]


def spread(values: list[float]) -> dict:
    return {"mean": statistics.fmean(values), "min": min(values), "max": max(values),
            "sd": statistics.stdev(values) if len(values) > 1 else 0.0, "n": len(values)}


def summarise(results: dict, labels: list[str], seeds: list[int], reference: str = "trl") -> str:
    """One markdown row per trainer label: the headline metric per seed with its spread, the second metric's mean,
    the test answer loss and the training time; then each label's mean against `reference`'s seed range."""
    done = {t: [results[f"{t}-{s}"] for s in seeds if f"{t}-{s}" in results] for t in labels}
    if not any(done.values()):
        return "nothing trained yet"
    task = next(r for rs in done.values() for r in rs)["task"]
    metric, other = headline(task), second(task)
    lines = [f"| trainer | {metric} per seed | mean | min–max | sd | {other}, mean | test answer loss, mean (min–max) "
             "| train s (mean) |", "| --- | --- | --: | --: | --: | --: | --: | --: |"]
    stats = {}
    for t, rows in done.items():
        if not rows:
            continue
        vals = [r["metrics"][metric] for r in rows]
        st = stats[t] = {**spread(vals), "train_s": statistics.fmean(r["train_s"] for r in rows)}
        per_seed = ", ".join(f"{100 * v:.1f}" for v in vals)
        more = statistics.fmean(r["metrics"].get(other, float("nan")) for r in rows)
        losses = [r["test_loss"] for r in rows if "test_loss" in r]
        loss = f"{statistics.fmean(losses):.4f} ({min(losses):.4f}–{max(losses):.4f})" if losses else "–"
        lines.append(f"| {t} | {per_seed} | {100 * st['mean']:.1f}% | {100 * st['min']:.1f}–{100 * st['max']:.1f} | "
                     f"{100 * st['sd']:.1f} | {100 * more:.1f}% | {loss} | {st['train_s']:.0f} |")
    ref = stats.get(reference)
    for mine, tf in stats.items():
        if ref is None or mine == reference:
            continue
        where = "BELOW" if tf["mean"] < ref["min"] else ("above" if tf["mean"] > ref["max"] else "within")
        lines.append(f"\n{mine} − {reference}: {100 * (tf['mean'] - ref['mean']):+.1f} points ({reference}'s seeds "
                     f"span {100 * ref['min']:.1f}–{100 * ref['max']:.1f}, sd {100 * ref['sd']:.1f}): the mean is "
                     f"{where} {reference}'s run-to-run range; training wall time {reference} / {mine} "
                     f"{ref['train_s'] / tf['train_s']:.2f}x")
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


def given_split(train: Path, test: Path, work: Path, train_limit: int | None) -> tuple[Path, Path]:
    """Copies of two given files (a seeded sample of the training rows with --train-limit) in the work folder."""
    import random

    work.mkdir(parents=True, exist_ok=True)
    rows = train.read_text(encoding="utf-8").splitlines()
    if train_limit and train_limit < len(rows):
        keep = sorted(random.Random(task_quality.SEED).sample(range(len(rows)), train_limit))
        rows = [rows[i] for i in keep]
    (work / "train.jsonl").write_text("".join(r + "\n" for r in rows if r.strip()), encoding="utf-8")
    (work / "test.jsonl").write_text(test.read_text(encoding="utf-8"), encoding="utf-8")
    return work / "train.jsonl", work / "test.jsonl"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--task", required=True, help=f"one of {', '.join(sorted(TASKS))}; with --train/--test any name")
    ap.add_argument("--seeds", default="1,2,3", help="training seeds (the split is always task_quality's seed 42)")
    ap.add_argument("--trainers", default="trl,tuneforge",
                    help=f"comma-separated subset of {', '.join(TRAINERS)} (default: trl,tuneforge)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="change one tuneforge training setting (ablation); repeatable")
    ap.add_argument("--train-limit", type=int, help="a seeded sample of N training rows (as task_quality.py)")
    ap.add_argument("--test-share", type=float, default=0.2)
    ap.add_argument("--limit", type=int, help="score only the first N test rows")
    ap.add_argument("--train", type=Path, help="a training file instead of the task's split (with --test)")
    ap.add_argument("--test", type=Path, help="a test file instead of the task's split (with --train)")
    ap.add_argument("--reference", default="trl", help="the trainer label the others are compared with")
    ap.add_argument("--base", default=task_quality.BASE)
    ap.add_argument("--work", help="folder for the split, the runs and results.json (default /tmp/trl-parity/TASK)")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    trainers = [t.strip() for t in args.trainers.split(",") if t.strip()]
    if (args.train is None) != (args.test is None):
        raise SystemExit("--train and --test go together")
    if args.train is None and args.task not in TASKS:
        raise SystemExit(f"--task: choose from {', '.join(sorted(TASKS))} (or give --train and --test)")
    if set(trainers) - set(TRAINERS):
        raise SystemExit(f"--trainers: choose from {', '.join(TRAINERS)}")
    overrides = parse_set(args.set)
    # An ablation's runs are kept apart from the plain ones: "tuneforge[precision=bf16]-1", not "tuneforge-1".
    tag = "[" + ",".join(f"{k}={v}" for k, v in overrides.items()) + "]" if overrides else ""
    label = {"trl": "trl", "tuneforge": "tuneforge" + tag, "noflag": "noflag" + tag}
    task_quality.BASE = args.base  # train_trl reads the module's base
    work = Path(args.work or f"/tmp/trl-parity/{args.task}")
    if args.train is not None:
        train_file, test_file = given_split(args.train, args.test, work, args.train_limit)
        n_train, n_test = (len(f.read_text(encoding="utf-8").splitlines()) for f in (train_file, test_file))
    else:
        train_file, test_file, n_train, n_test = task_quality.make_split(args.task, work, args.test_share,
                                                                        args.train_limit)
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
            chose = None
            if trainer == "trl":
                seconds = task_quality.train_trl(train_file, out, seed)
            elif trainer == "noflag":
                seconds, chose = train_tuneforge_noflag(train_file, out, seed, overrides)
            else:
                seconds = train_tuneforge_at_trl(train_file, out, seed, args.base, overrides)
            results[key] = {**score(out, train_file, test_file, args.limit), "train_s": seconds, "seed": seed,
                            "overrides": overrides if trainer != "trl" else {}}
            if chose:
                results[key]["chose"] = chose
            results[key]["test_loss"] = test_loss(out, test_file, args.base, args.limit)
            m = results[key]["metrics"]
            print(f"{key}: {headline(results[key]['task'])} {m[headline(results[key]['task'])]:.3f}, "
                  f"train {seconds:.0f} s", flush=True)
            path.write_text(json.dumps(results, indent=1), encoding="utf-8")
    for key, entry in results.items():  # runs recorded before the test loss was
        if "test_loss" not in entry and (work / key / "adapter_config.json").is_file():
            entry["test_loss"] = test_loss(work / key, test_file, args.base, args.limit)
            path.write_text(json.dumps(results, indent=1), encoding="utf-8")
    labels = [label[t] for t in trainers]
    labels += sorted({k.rsplit("-", 1)[0] for k in results} - set(labels))  # earlier runs in this folder too
    md = summarise(results, labels, seeds, args.reference)
    (work / "table.md").write_text(md + "\n", encoding="utf-8")
    print(f"\n{args.task}: {n_train} train / {n_test} test rows; machine: {task_quality.machine()}")
    print(f"command: {' '.join(sys.argv)}\n{md}")


if __name__ == "__main__":
    main()
