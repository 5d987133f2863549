"""Measure LoRA (or, with --method full, full fine-tuning) training throughput (tokens/s) of a base model on this
machine with the real trainer.

The figure feeds tuneforge.data.estimate.MEASURED_COMPUTED_TOKENS_PER_S (the fallback when no earlier run of the
base model exists on a machine). It trains one epoch of `--examples` lines of the invoice demo (or of --data),
then reports the steady-state throughput from metrics.jsonl (the first step, with its warm-up, left out), in the
data's tokens and in computed tokens (less the shared prompt start each batch runs once), and the load average,
because on a shared machine other jobs change the figure.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/lora_throughput.py --examples 64   # one thread: contended
                                                                                # OpenMP threads spin on a shared CPU
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

from tuneforge.config import TrainConfig
from tuneforge.paths import examples_dir
from tuneforge.train.sft import train


def measure(base: str, examples: int, batch_size: int, method: str = "lora", data: str | None = None) -> dict:
    """One epoch of the first `examples` lines at `batch_size` by `method`: the steady-state figures (the first
    step, with its warm-up, left out), as main prints them, plus the steady part's steps and seconds."""
    # Removed afterwards: a full fine-tune's folder holds the model and its optimizer state (2.1 GB for smollm2-135m),
    # and a sweep of them filled the disk.
    with tempfile.TemporaryDirectory(prefix="lora-throughput-") as work:
        return _measure(Path(work), base, examples, batch_size, method, data)


def _measure(work: Path, base: str, examples: int, batch_size: int, method: str, data: str | None) -> dict:
    source = Path(data) if data else examples_dir() / "invoice-categories" / "train.jsonl"
    # rows, not lines: a blank line taken as one of `examples` would quietly shrink the measured epoch
    lines = [line for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    subset = work / "data.jsonl"
    subset.write_text("\n".join(lines[:examples]) + "\n", encoding="utf-8")
    load_before = os.getloadavg()[0]
    out = train(TrainConfig(data=str(subset), base=base, out=str(work / "run"), epochs=1,
                            batch_size=batch_size, eval_split=0.0, progress=False,
                            # the invoice lines are labels, which would get a classification variant: the figure
                            # is the generative trainer's, the one data/estimate.py predicts; the method is named,
                            # since with none `train` chooses full fine-tuning for a small base
                            variant_type="generative", method=method), log=lambda *_: None)
    records = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in records if "epoch_end" not in r]
    steady = steps[1:] or steps
    seconds = steady[-1]["time_s"] - (steps[0]["time_s"] if len(steps) > 1 else 0)

    def gained(key):
        return steady[-1][key] - (steps[0][key] if len(steps) > 1 else 0)

    run = json.loads((out / "run.json").read_text())
    if run["data"]["train_examples"] != len(lines[:examples]):  # a figure for fewer rows than asked is no figure
        raise SystemExit(f"{source}: trained {run['data']['train_examples']} rows, asked for {len(lines[:examples])}")
    # steady_computed_tokens_per_s is the figure for MEASURED_COMPUTED_TOKENS_PER_S: the data's tokens less the
    # shared system prompt each batch runs once (this file's prompt start is most of each line).
    return {"base": base, "method": method, "batch_size": batch_size, "steps": len(steps),
            "steady_steps": len(steady), "steady_seconds": round(seconds, 2),
            "steady_computed_tokens": gained("computed_tokens"),
            "steady_tokens_per_s": round(gained("trained_tokens") / seconds, 1),
            "steady_computed_tokens_per_s": round(gained("computed_tokens") / seconds, 1),
            "run_tokens_per_s": run["tokens_per_s"], "run_computed_tokens_per_s": run["computed_tokens_per_s"],
            "load_average_before": load_before, "load_average_after": os.getloadavg()[0], "cpus": os.cpu_count()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", default="smollm2-135m")
    ap.add_argument("--examples", type=int, default=48)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--method", default="lora", choices=["lora", "full"])
    ap.add_argument("--data", help="a JSONL file to take the lines from (default: the invoice demo's train.jsonl)")
    args = ap.parse_args()
    print(json.dumps(measure(args.base, args.examples, args.batch_size, args.method, args.data)))


if __name__ == "__main__":
    main()
