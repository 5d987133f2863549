"""What an optimizer step costs apart from its tokens, for LoRA and full fine-tuning, on one machine.

`data/estimate.py` counts each optimizer step (the optimizer, gradient clipping, the loop's own work) as STEP_TOKENS
of work beside the tokens, and full fine-tuning's tokens as FULL_FINETUNE_SLOWDOWN x LoRA's. This measures both on
the invoice demo's lines, the reference's rows. The same rows are trained for one epoch at several batch sizes (each
in its own process, by
`lora_throughput.py`): the tokens stay nearly the same while the steps shrink with the batch. Per method, least
squares of each run's steady-state seconds on (its steps, its computed tokens) gives a step's own cost and the
per-token rate.

    OMP_NUM_THREADS=1 taskset -c 0 python benchmarks/step_cost.py --examples 128 --batches 2,4,8,16

Run it alone on the machine: the optimizer step is bound by memory, which a neighbour shares.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np


def even_rows(source: Path, n: int, base: str, out: Path) -> tuple[int, int]:
    """The `n` lines of `source` whose conversations encode nearest the median length, written to `out`: a batch
    pads its rows to the longest, so rows of one length keep padding from growing with the batch, which would be
    counted as a step's cost. Returns the shortest and longest length kept."""
    from tuneforge.chat_encoding import encode_conversation
    from tuneforge.data.formats import load_examples
    from tuneforge.models.load import load_tokenizer
    from tuneforge.models.resolve import resolve_base

    examples, _ = load_examples(str(source))
    tokenizer = load_tokenizer(resolve_base(base).path)
    lengths = [len(encode_conversation(tokenizer, e.messages, 1 << 20).input_ids) for e in examples]
    median = sorted(lengths)[len(lengths) // 2]
    kept = sorted(range(len(examples)), key=lambda i: (abs(lengths[i] - median), i))[:n]
    out.write_text("".join(examples[i].jsonl_line() for i in sorted(kept)), encoding="utf-8")  # each ends its line
    return min(lengths[i] for i in kept), max(lengths[i] for i in kept)


def fit(runs: list[dict]) -> tuple[float, float]:
    """(seconds a step, computed tokens/s) from seconds = a x steps + tokens / rate over `runs`."""
    design = np.array([[r["steady_steps"], r["steady_computed_tokens"]] for r in runs], dtype=float)
    seconds = np.array([r["steady_seconds"] for r in runs], dtype=float)
    (a, per_token), *_ = np.linalg.lstsq(design, seconds, rcond=None)
    return float(a), float(1 / per_token)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--examples", type=int, default=128)
    ap.add_argument("--batches", default="2,4,8,16")
    ap.add_argument("--methods", default="lora,full")
    ap.add_argument("--base", default="smollm2-135m")
    args = ap.parse_args()
    script = Path(__file__).resolve().parent / "lora_throughput.py"
    from tuneforge.paths import examples_dir

    folder = tempfile.TemporaryDirectory(prefix="step-cost-")  # removed when the sweep ends
    data = Path(folder.name) / "rows.jsonl"
    low, high = even_rows(examples_dir() / "invoice-categories" / "train.jsonl", args.examples, args.base, data)
    print(f"{args.examples} invoice lines of {low}-{high} tokens each (the median's neighbours)", flush=True)
    fits = {}
    for method in args.methods.split(","):
        runs = []
        for batch in [int(b) for b in args.batches.split(",")]:
            done = subprocess.run([sys.executable, str(script), "--base", args.base, "--examples", str(args.examples),
                                   "--batch-size", str(batch), "--method", method, "--data", str(data)],
                                  capture_output=True, text=True)
            if done.returncode:  # its own error, not only its exit status: a full disk once showed as "status 1"
                raise SystemExit(f"{method} batch {batch} failed:\n{done.stderr[-3000:]}")
            runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
            r = runs[-1]
            print(f"{method} batch {batch}: {r['steady_steps']} steady steps, {r['steady_computed_tokens']:,} computed "
                  f"tokens in {r['steady_seconds']:.1f} s ({r['steady_computed_tokens_per_s']} tokens/s; load "
                  f"{r['load_average_before']:.2f} -> {r['load_average_after']:.2f})", flush=True)
        a, rate = fit(runs)
        fits[method] = (a, rate)
        worst = max(abs(a * r["steady_steps"] + r["steady_computed_tokens"] / rate - r["steady_seconds"])
                    / r["steady_seconds"] for r in runs)
        print(f"{method}: {a:.3f} s a step + {rate:.1f} computed tokens/s (worst run off the fit by {100 * worst:.1f}%); "
              f"a step = {a * rate:.1f} tokens", flush=True)
    if {"lora", "full"} <= fits.keys():
        (a_lora, r_lora), (a_full, r_full) = fits["lora"], fits["full"]
        print(f"full against LoRA: {r_lora / r_full:.3f}x the time a token; its step costs {a_full - a_lora:.3f} s more, "
              f"{(a_full - a_lora) * r_full:.1f} of its tokens")


if __name__ == "__main__":
    main()
