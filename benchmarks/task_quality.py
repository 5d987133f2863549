"""Task quality on real labelled public tasks: tuneforge with no flags against the alternatives a user has.

For one task of benchmarks/tasks.py (data shipped inside PyPI packages; nothing downloaded) it makes one seeded
train/test split and compares, on the same test rows:

- `tuneforge train TRAIN` with no flags (it chooses variant type and settings from the data);
- plain TRL `SFTTrainer` + PEFT LoRA (r=16, alpha 32, dropout 0.05, all linear layers, 2 epochs, lr 2e-4, batch 8,
  linear schedule, no warm-up, fp32, loss on the answer only, every training row used);
- for classification: TF-IDF + logistic regression and sentence embeddings (the eval's default embedder,
  multilingual-e5-small) + logistic regression, trained by `tuneforge eval` on the variant's own training rows;
- the prompted base model: zero-shot and few-shot with the 8 most similar training rows (the strongest prompted
  system on the invoice demo).

Every system is scored by `tuneforge eval` (one eval.json): accuracy and macro-F1 for classification, field F1
and valid-JSON rate for extraction, the eval's text metrics otherwise, each with its 95% interval, and paired
tests against the no-flag variant. Training time is wall-clock on this machine; prediction time is eval's mean
latency per example x 1,000.

    pip install -e '.[bench]'     # trl, chatterbot-corpus, quantulum3
    python benchmarks/task_quality.py --task chatterbot-topics-es
    python benchmarks/task_quality.py --task chatterbot-topics-en --limit 100 --systems tuneforge,prompted
    python benchmarks/task_quality.py --list

Results (JSON + a markdown table) go to --work (default /tmp/task-quality/<task>); copy the table into
benchmarks/RESULTS.md with the machine line it prints.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tasks import TASKS  # noqa: E402

SEED = 42
SYSTEMS = ("tuneforge", "trl", "prompted", "classical")
TRL = {"r": 16, "alpha": 32, "dropout": 0.05, "epochs": 2, "lr": 2e-4, "batch": 8}
BASE = "smollm2-135m"  # TRL's and the prompted systems' base; --base changes it (a tiny random model: a smoke run)
TUNEFORGE_BASE = None  # None: `tuneforge train` chooses the base from the data, as with no flags; --base sets it


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def make_split(task: str, work: Path, test_share: float, train_limit: int | None) -> tuple[Path, Path, int, int]:
    """One seeded split (stratified by label when the answers are labels), as train.jsonl and test.jsonl."""
    from tuneforge.data.formats import load_examples
    from tuneforge.data.split import split_examples

    work.mkdir(parents=True, exist_ok=True)
    every = work / "all.jsonl"
    write_jsonl(every, TASKS[task]())
    examples, _ = load_examples(every)
    train, test = split_examples(examples, test_share, SEED)
    if train_limit and train_limit < len(train):  # a seeded sample: the files are ordered by label
        import random

        keep = sorted(random.Random(SEED).sample(range(len(train)), train_limit))
        train = [train[i] for i in keep]
    write_jsonl(work / "train.jsonl", [e.to_json() for e in train])
    write_jsonl(work / "test.jsonl", [e.to_json() for e in test])
    return work / "train.jsonl", work / "test.jsonl", len(train), len(test)


def train_tuneforge(train_file: Path, out: Path) -> float:
    """`tuneforge train TRAIN --out OUT`: no setting given, so every one is chosen from the data."""
    from tuneforge.config import TrainConfig
    from tuneforge.train.sft import train

    t0 = time.perf_counter()
    train(TrainConfig(data=str(train_file), out=str(out), overwrite=True,
                      **({"base": TUNEFORGE_BASE} if TUNEFORGE_BASE else {})))
    return time.perf_counter() - t0


def train_trl(train_file: Path, out: Path, seed: int = SEED) -> float:
    """Plain TRL SFTTrainer + PEFT LoRA at the issue's settings; writes a run.json so `tuneforge eval` loads it.
    `seed` seeds TRL's adapter initialisation, data order and dropout (the split is made before, by SEED)."""
    from datasets import Dataset
    from peft import LoraConfig
    from trl import SFTConfig, SFTTrainer

    from tuneforge.models.load import load_model, load_tokenizer
    from tuneforge.models.resolve import resolve_base

    path = resolve_base(BASE).path
    rows = []
    for line in train_file.read_text(encoding="utf-8").splitlines():
        msgs = json.loads(line)["messages"]
        rows.append({"prompt": msgs[:-1], "completion": msgs[-1:]})
    config = SFTConfig(
        output_dir=str(out / "trainer"), num_train_epochs=TRL["epochs"], per_device_train_batch_size=TRL["batch"],
        learning_rate=TRL["lr"], lr_scheduler_type="linear", warmup_steps=0, weight_decay=0.0, logging_steps=10,
        save_strategy="no", report_to="none", seed=seed, bf16=False, use_cpu=True, gradient_checkpointing=False,
        completion_only_loss=True, max_length=1024, dataloader_num_workers=0, disable_tqdm=True)
    t0 = time.perf_counter()
    trainer = SFTTrainer(
        model=load_model(path), args=config, train_dataset=Dataset.from_list(rows),
        processing_class=load_tokenizer(path),
        peft_config=LoraConfig(r=TRL["r"], lora_alpha=TRL["alpha"], lora_dropout=TRL["dropout"],
                               target_modules="all-linear", task_type="CAUSAL_LM"))
    trainer.train()
    seconds = time.perf_counter() - t0
    save_trl_run(trainer.model, out, BASE, train_file, {**TRL, "seed": seed}, seconds)
    return seconds


def save_trl_run(model, out: Path, base: str, train_file: Path, settings: dict, seconds: float) -> None:
    """A TRL-trained adapter as a run folder `tuneforge eval` loads: adapter, tokenizer and a minimal run.json."""
    from tuneforge.models.load import load_tokenizer
    from tuneforge.models.resolve import resolve_base

    path = resolve_base(base).path
    model.save_pretrained(str(out))
    load_tokenizer(path).save_pretrained(str(out))
    (out / "run.json").write_text(json.dumps({
        "format": "tuneforge.run/1", "variant_type": "generative", "method": "lora", "objective": "sft",
        "base": {"name": base, "path": str(path)}, "data": {"path": str(Path(train_file).resolve())},
        "trainer": f"trl {__import__('trl').__version__} SFTTrainer", "settings": settings, "wall_time_s": seconds,
    }, indent=1), encoding="utf-8")


def evaluate(args, work: Path, train_file: Path, test_file: Path, trained: dict) -> dict:
    from tuneforge.config import EvalConfig
    from tuneforge.eval.compare import run_eval

    primary = str(work / "tuneforge") if "tuneforge" in trained else (str(work / "trl") if "trl" in trained else BASE)
    variants = ",".join(f"{name}={work / name}" for name in trained if str(work / name) != primary)
    cfg = EvalConfig(model=primary, eval_data=str(test_file), train_data=str(train_file), limit=args.limit,
                     variants=variants or None, baselines="prompted" in args.systems, few_shot="similar",
                     constrained=False, classical="classical" in args.systems, out=str(work / "eval.json"),
                     html="none")
    return run_eval(cfg)


def machine() -> str:
    import os

    import torch

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    load = os.getloadavg()[0]
    return (f"{cpu}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
            f"{'CUDA' if torch.cuda.is_available() else 'no GPU'}; 1-minute load average at the end {load:.1f}")


def table(report: dict, trained_s: dict) -> str:
    systems = report["systems"]
    metrics = list(next(iter(systems.values()))["metrics"])[:2]
    rows = [f"| system | {' | '.join(f'{m} [95% CI]' for m in metrics)} | train s | predict s / 1,000 |",
            "| --- |" + " --: |" * (len(metrics) + 2)]
    for name, s in systems.items():
        cells = []
        for m in metrics:
            lo, hi = s["ci"].get(m, [None, None])
            ci = f" [{100 * lo:.1f}–{100 * hi:.1f}]" if lo is not None else ""
            cells.append(f"{100 * s['metrics'][m]:.1f}%{ci}")
        train = (s.get("classical") or {}).get("fit_s") or trained_s.get(name)
        per_1000 = 1000 * s["mean_latency_s"]
        rows.append(f"| {name} | {' | '.join(cells)} | {'–' if train is None else f'{train:.0f}'} | {per_1000:.1f} |")
    return "\n".join(rows)


def main() -> None:
    global BASE, TUNEFORGE_BASE
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--task", choices=sorted(TASKS))
    ap.add_argument("--list", action="store_true", help="print the tasks and exit")
    ap.add_argument("--limit", type=int, help="evaluate only the first N test rows")
    ap.add_argument("--train-limit", type=int, help="train on only the first N training rows (all systems)")
    ap.add_argument("--test-share", type=float, default=0.2)
    ap.add_argument("--systems", default=",".join(SYSTEMS), help=f"comma-separated subset of {', '.join(SYSTEMS)}")
    ap.add_argument("--base", help="base model of every system (default: the bundled smollm2-135m for TRL and "
                    "prompting; tuneforge's own choice for tuneforge)")
    ap.add_argument("--work", help="folder for the split, the runs and the results (default /tmp/task-quality/TASK)")
    args = ap.parse_args()
    if args.list or not args.task:
        for name in TASKS:
            print(name)
        return
    BASE, TUNEFORGE_BASE = args.base or BASE, args.base
    args.systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = set(args.systems) - set(SYSTEMS)
    if unknown:
        raise SystemExit(f"--systems: unknown {sorted(unknown)}; choose from {', '.join(SYSTEMS)}")
    work = Path(args.work or f"/tmp/task-quality/{args.task}")
    train_file, test_file, n_train, n_test = make_split(args.task, work, args.test_share, args.train_limit)
    print(f"{args.task}: {n_train} train / {n_test} test rows (seed {SEED}); work folder {work}", flush=True)
    trained: dict[str, float] = {}
    if "tuneforge" in args.systems:
        trained["tuneforge"] = train_tuneforge(train_file, work / "tuneforge")
    if "trl" in args.systems:
        trained["trl"] = train_trl(train_file, work / "trl")
    report = evaluate(args, work, train_file, test_file, trained)
    # eval names the --model run "fine-tuned"; the others keep their folder names
    shown = {("fine-tuned" if name == next(iter(trained), None) else name): s for name, s in trained.items()}
    summary = {"task": args.task, "train_rows": n_train, "test_rows": report["systems"][next(iter(report["systems"]))]["n"],
               "seed": SEED, "machine": machine(), "train_seconds": shown, "command": " ".join(sys.argv),
               "recommendation": report.get("recommendation"), "eval": str(work / "eval.json")}
    md = table(report, shown)
    (work / "summary.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    (work / "table.md").write_text(md + "\n", encoding="utf-8")
    print(f"\n{args.task}: {n_train} train rows, {summary['test_rows']} test rows; machine: {summary['machine']}")
    print(md)
    print(summary["recommendation"])


if __name__ == "__main__":
    main()
