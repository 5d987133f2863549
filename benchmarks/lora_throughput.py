"""Measure LoRA training throughput (tokens/s) of a base model on this machine with the real trainer.

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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", default="smollm2-135m")
    ap.add_argument("--examples", type=int, default=48)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--data", help="a JSONL file to take the lines from (default: the invoice demo's train.jsonl)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lora-throughput-"))
    source = Path(args.data) if args.data else examples_dir() / "invoice-categories" / "train.jsonl"
    lines = source.read_text(encoding="utf-8").splitlines()
    data = work / "data.jsonl"
    data.write_text("\n".join(lines[: args.examples]) + "\n", encoding="utf-8")
    load_before = os.getloadavg()[0]
    out = train(TrainConfig(data=str(data), base=args.base, out=str(work / "run"), epochs=1,
                            batch_size=args.batch_size, eval_split=0.0, progress=False,
                            # the invoice lines are labels, which would get a classification variant: the figure
                            # is the generative LoRA trainer's, the one data/estimate.py predicts
                            variant_type="generative"), log=lambda *_: None)
    records = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in records if "epoch_end" not in r]
    steady = steps[1:] or steps
    seconds = steady[-1]["time_s"] - (steps[0]["time_s"] if len(steps) > 1 else 0)

    def rate(key):
        return round((steady[-1][key] - (steps[0][key] if len(steps) > 1 else 0)) / seconds, 1)

    run = json.loads((out / "run.json").read_text())
    # steady_computed_tokens_per_s is the figure for MEASURED_COMPUTED_TOKENS_PER_S: the data's tokens less the
    # shared system prompt each batch runs once (this file's prompt start is most of each line).
    print(json.dumps({"base": args.base, "steps": len(steps), "steady_tokens_per_s": rate("trained_tokens"),
                      "steady_computed_tokens_per_s": rate("computed_tokens"),
                      "run_tokens_per_s": run["tokens_per_s"], "run_computed_tokens_per_s": run["computed_tokens_per_s"],
                      "load_average_before": load_before, "load_average_after": os.getloadavg()[0],
                      "cpus": os.cpu_count()}))


if __name__ == "__main__":
    main()
