"""DPO on a variant's own mistakes against retraining with the corrected rows, on a validation split of the
TRAINING file only.

`dpo_rate.py` made its pairs by drawing a wrong label at random for rows the SFT variant already answers right:
the least useful pairs there are. This script makes the pairs that review of live traffic makes. The training
split is cut once more: the SFT variant learns from the first part, then answers the rest ("the traffic") as it
would in production; every traffic row it answers wrongly becomes a pair, the right label chosen and the
variant's own answer rejected. Then, on the same validation rows, free decoding (`--no-constrained`):

- the SFT variant trained on the first part (the production variant);
- that variant + `tuneforge train PAIRS --objective dpo --base SFT` on its mistake pairs, per rate;
- a variant retrained with SFT on the first part plus the traffic with its right labels, which is what
  `tuneforge monitor retrain` does with reviewed traffic.

    python benchmarks/dpo_mistakes.py examples/invoice-categories/train.jsonl --work W [--rates auto,1.4e-4]

Every `train` has no flag but `--variant-type generative` (SFT) or `--objective dpo --base` (DPO), so each is a
no-flag run. The test file is never read. W keeps the run folders, logs, pairs and eval files.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dpo_rate import run  # noqa: E402  (benchmarks/ is not a package)


def mistake_pairs(traffic, predictions: list[str]) -> list[dict]:
    """One pair per traffic row the variant answered wrongly: the right label chosen, its own answer rejected."""
    from tuneforge.data.labels import normalise_answer

    return [{"prompt": e.prompt_messages, "chosen": e.answer, "rejected": said}
            for e, said in zip(traffic, predictions, strict=True)
            if normalise_answer(said) != normalise_answer(e.answer)]


def main() -> None:
    from tuneforge.atomic import write_lines_atomic
    from tuneforge.data.formats import load_examples
    from tuneforge.data.split import split_examples

    ap = argparse.ArgumentParser()
    ap.add_argument("train_file")
    ap.add_argument("--val", type=float, default=0.2, help="validation share of the training file")
    ap.add_argument("--traffic", type=float, default=0.3, help="share of the rest that the variant answers")
    ap.add_argument("--rates", default="auto", help="DPO rates, comma-separated; 'auto' leaves --lr unset")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--work", required=True)
    args = ap.parse_args()

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    every, _ = load_examples(args.train_file)
    train, val = split_examples(every, args.val, args.seed)  # the same validation rows as dpo_rate.py's
    first, traffic = split_examples(train, args.traffic, args.seed)

    def write(name: str, rows) -> Path:
        path = work / name
        write_lines_atomic(path, (e.jsonl_line() + "\n" for e in rows))
        return path

    val_file, first_file = write("validation.jsonl", val), write("first.jsonl", first)
    traffic_file, all_file = write("traffic.jsonl", traffic), write("first_and_traffic.jsonl", train)
    print(f"{args.train_file}: {len(first)} rows to train on, {len(traffic)} traffic rows, {len(val)} validation "
          f"rows (split seed {args.seed})", flush=True)

    tuneforge = [sys.executable, "-m", "tuneforge"]
    common = ["--seed", str(args.seed), "--report-to", "none", "--no-progress", "--overwrite"]
    right: dict[str, list[bool]] = {}

    def validation(model: Path, name: str) -> str:
        """`tuneforge eval` of `model` on the validation rows, free decoding; keeps its rows right for McNemar."""
        out = work / f"eval_{name}.json"
        run([*tuneforge, "eval", "--model", str(model), "--eval-data", str(val_file), "--no-baselines",
             "--no-classical", "--no-constrained", "--out", str(out)], work / f"eval_{name}.log")
        report = json.loads(out.read_text())
        right[name] = [bool(e["scores"]["fine-tuned"]["correct"]) for e in report["examples"]]
        m = report["systems"]["fine-tuned"]["metrics"]
        return (f"validation accuracy {100 * m['accuracy']:.1f}% ({sum(right[name])} of {len(right[name])}), "
                f"outside the labels {100 * m['out_of_label_share']:.1f}%")

    def against(name: str, reference: str) -> str:
        from tuneforge.eval.stats import mcnemar_exact

        test = mcnemar_exact(right[reference], right[name])
        return (f"against {reference}: {test['b_only']} gained, {test['a_only']} lost, McNemar exact p = "
                f"{test['p_value']:.3g}")

    def sft(train_file: Path, name: str) -> Path:
        out = work / name
        seconds = run([*tuneforge, "train", str(train_file), "--variant-type", "generative", "--out", str(out),
                       *common], work / f"train_{name}.log")
        config = json.loads((out / "run.json").read_text())["config"]
        if config["method"] != "full":  # DPO's --base must be a transformers folder, which an adapter folder is not
            raise SystemExit(f"the SFT variant trained {config['method']}, not full")
        print(f"{name}: SFT ({config['method']}, lr {config['lr']:g}, batch {config['batch_size']}, "
              f"{config['epochs']} epochs): {validation(out, name)}, training {seconds:.0f} s", flush=True)
        return out

    production = sft(first_file, "sft_first")
    answers = work / "traffic_answers.jsonl"
    run([*tuneforge, "predict", "--model", str(production), "--input", str(traffic_file), "--output", str(answers),
         "--no-constrained", "--no-progress"], work / "predict_traffic.log")
    said = [json.loads(line)["prediction"] for line in answers.read_text().splitlines() if line.strip()]
    pairs = mistake_pairs(traffic, said)
    pairs_file = work / "pairs.jsonl"
    write_lines_atomic(pairs_file, (json.dumps(p, ensure_ascii=False) + "\n" for p in pairs))
    print(f"the variant answered {len(traffic) - len(pairs)} of {len(traffic)} traffic rows right: "
          f"{len(pairs)} mistake pairs", flush=True)

    for rate in [r for r in args.rates.split(",") if r]:
        name = f"dpo_{rate}"
        out = work / name
        seconds = run([*tuneforge, "train", str(pairs_file), "--objective", "dpo", "--base", str(production),
                       "--out", str(out), *common, *([] if rate == "auto" else ["--lr", rate])],
                      work / f"train_{name}.log")
        config = json.loads((out / "run.json").read_text())["config"]
        print(f"{name}: DPO on the mistakes (lr {config['lr']:g}, batch {config['batch_size']}, {config['epochs']} "
              f"epochs, beta {config['dpo_beta']:g}): {validation(out, name)}, training {seconds:.0f} s; "
              f"{against(name, 'sft_first')}", flush=True)

    sft(all_file, "sft_retrained")
    print(f"sft_retrained: {against('sft_retrained', 'sft_first')}", flush=True)


if __name__ == "__main__":
    main()
