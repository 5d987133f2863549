"""DPO's learning rate on a labelled task, measured on a validation split of the TRAINING file only.

`train/auto.py` sets DPO's rate as a tenth of the SFT rates of an earlier round; this script measures it. Each
training row of a labelled task becomes a preference pair: the right label chosen, another label of the task
rejected (drawn with a seeded generator, the same for every rate). That is the pair a reviewer's correction makes
("not hardware: software"), on answers whose rightness is known. For each rate, `tuneforge train PAIRS
--objective dpo --lr RATE` with no other flag (LoRA on the bundled base; batch, epochs and beta as chosen), then
`tuneforge eval` on the validation rows, free decoding (`--no-constrained`): the answer must be the label.

    python benchmarks/dpo_rate.py examples/invoice-categories/train.jsonl --rates auto,1e-4,5e-4 --work W

`auto` is what `train` chooses with no --lr. The test file is never read. Per rate it prints validation accuracy,
the share of answers outside the label set and the training time; W keeps the run folders, logs and eval files.

DPO from the base model cannot be judged by the task metric (the base never answers with a label), so DPO is
meant to run on an SFT variant. `--sft` first trains one on the split's training rows (`tuneforge train TRAIN
--variant-type generative`, no other flag: a full fine-tune of the bundled base) and evaluates it as the starting
point; `--base FOLDER` starts DPO from such a run folder (or a merged export) trained earlier; `--rates ''`
stops after the SFT variant. Two rates on two cores, sharing one SFT variant:

    python benchmarks/dpo_rate.py TRAIN --sft --rates '' --work W0
    python benchmarks/dpo_rate.py TRAIN --base W0/sft --rates auto --work W1 &
    python benchmarks/dpo_rate.py TRAIN --base W0/sft --rates 1e-4 --work W2
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from pathlib import Path


def preference_pairs(train, seed: int) -> list[dict]:
    """One pair per training row: its label chosen, another of the task's labels rejected (seeded)."""
    from tuneforge.data.labels import label_set, normalise_answer

    labels = sorted(label_set([e.answer for e in train]))
    rng = random.Random(seed)
    pairs = []
    for e in train:
        others = [label for label in labels if normalise_answer(label) != normalise_answer(e.answer)]
        pairs.append({"prompt": e.prompt_messages, "chosen": e.answer, "rejected": rng.choice(others)})
    return pairs


def write_pairs(path: Path, examples, seed: int) -> None:
    """`preference_pairs` of `examples` as a pair file that `tuneforge train --objective dpo` reads."""
    from tuneforge.atomic import write_lines_atomic

    write_lines_atomic(path, (json.dumps(p, ensure_ascii=False) + "\n" for p in preference_pairs(examples, seed)))


def run(cmd: list[str], log: Path) -> float:
    """Run a tuneforge command with its output in `log`; the wall seconds it took."""
    t0 = time.perf_counter()
    with log.open("w") as out:
        done = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT)
    if done.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed (exit {done.returncode}); see {log}")
    return time.perf_counter() - t0


def main() -> None:
    from tuneforge.atomic import write_lines_atomic
    from tuneforge.data.formats import load_examples
    from tuneforge.data.split import split_examples

    ap = argparse.ArgumentParser()
    ap.add_argument("train_file")
    ap.add_argument("--rates", default="auto,1e-4,5e-4", help="comma-separated; 'auto' leaves --lr unset")
    ap.add_argument("--val", type=float, default=0.2, help="validation share of the training file")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--work", required=True)
    start = ap.add_mutually_exclusive_group()
    start.add_argument("--sft", action="store_true", help="train an SFT variant on the training rows first")
    start.add_argument("--base", help="DPO starts from this transformers folder (a full fine-tune's run folder)")
    args = ap.parse_args()

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    every, _ = load_examples(args.train_file)
    train, val = split_examples(every, args.val, args.seed)
    pairs_file, val_file = work / "pairs.jsonl", work / "validation.jsonl"
    write_pairs(pairs_file, train, args.seed)
    write_lines_atomic(val_file, (e.jsonl_line() + "\n" for e in val))
    print(f"{args.train_file}: {len(train)} pairs / {len(val)} validation rows (split seed {args.seed})", flush=True)

    tuneforge = [sys.executable, "-m", "tuneforge"]
    common = ["--seed", str(args.seed), "--report-to", "none", "--no-progress", "--overwrite"]

    def validation(model: Path, name: str) -> str:
        """`tuneforge eval` of `model` on the validation rows, free decoding: the figures printed."""
        run([*tuneforge, "eval", "--model", str(model), "--eval-data", str(val_file), "--no-baselines",
             "--no-classical", "--no-constrained", "--out", str(work / f"eval_{name}.json")], work / f"eval_{name}.log")
        metrics = json.loads((work / f"eval_{name}.json").read_text())["systems"]["fine-tuned"]["metrics"]
        return (f"validation accuracy {100 * metrics['accuracy']:.1f}%, outside the labels "
                f"{100 * metrics['out_of_label_share']:.1f}%")

    base = Path(args.base) if args.base else None
    if args.sft:
        base, train_file = work / "sft", work / "train.jsonl"
        write_lines_atomic(train_file, (e.jsonl_line() + "\n" for e in train))
        seconds = run([*tuneforge, "train", str(train_file), "--variant-type", "generative", "--out", str(base),
                       *common], work / "train_sft.log")
        config = json.loads((base / "run.json").read_text())["config"]
        if config["method"] != "full":  # DPO's --base must be a transformers folder, which an adapter folder is not
            raise SystemExit(f"the SFT variant trained {config['method']}, not full: export it merged "
                             f"(tuneforge models export {base} --format merged) and pass --base")
        print(f"SFT variant ({config['method']}, lr {config['lr']:g}, batch {config['batch_size']}, "
              f"{config['epochs']} epochs): {validation(base, 'sft')}, training {seconds:.0f} s", flush=True)
    for rate in [r for r in args.rates.split(",") if r]:
        out = work / f"lr_{rate}"
        train_cmd = [*tuneforge, "train", str(pairs_file), "--objective", "dpo", "--out", str(out), *common,
                     *(["--base", str(base)] if base else [])]
        seconds = run(train_cmd + ([] if rate == "auto" else ["--lr", rate]), work / f"train_{rate}.log")
        config = json.loads((out / "run.json").read_text())["config"]
        print(f"lr {config['lr']:g} ({rate}; batch {config['batch_size']}, {config['epochs']} epochs, beta "
              f"{config['dpo_beta']:g}, from {base or 'the base model'}): {validation(out, rate)}, "
              f"training {seconds:.0f} s", flush=True)


if __name__ == "__main__":
    main()
