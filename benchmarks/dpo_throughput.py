"""DPO's shared-prompt layout against the padded one, on the same pairs, measured in the same run.

A DPO micro-batch holds each pair's chosen and rejected conversation as two rows, and on a labelled task every row
starts with the same system prompt (the invoice demo's lists the twelve categories). The shared-prefix layout
(`--share-prefix`, the default) runs that prompt start once per micro-batch on a differentiable KV cache, for the
policy pass and for the reference pass; `--no-share-prefix` pads every row and runs it once per row. Both are
exact (tests/unit/test_train_efficiency.py): this script first compares the loss and gradient of one batch of 8
pairs under both layouts at the same weights, then times them and compares their loss curves.

Pairs are built as in benchmarks/dpo_rate.py: each training row's label chosen, another label rejected (seeded).
Each layout runs `tuneforge train PAIRS --objective dpo --max-steps N` with no other flag, and a third side SFT
LoRA on the training file itself (`--variant-type generative --method lora`: the chosen conversations alone), one
after another, in rounds that alternate the order (a drifting machine then biases no side). Printed per side: real
tokens/s over steps 2..N from metrics.jsonl (step 1 warms up; loading and saving are outside the window), the
share of tokens computed and computed tokens/s; then the ratio shared / padded, the largest relative difference
between the two DPO loss curves, and what a DPO computed token costs against an SFT one (a policy pass with its
backward, plus the reference pass), the figure the training estimate scales SFT's measured throughput by.

    python benchmarks/dpo_throughput.py --steps 12 --rounds 2 --work W     # pin it: taskset -c 0, 1 thread
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dpo_rate import write_pairs  # noqa: E402  (the same pairs the rate benchmark trains on)

# Each side: (trains on the pairs, or on the training file itself; its flags). `sft` is SFT LoRA on the chosen
# conversations alone, the yardstick the training estimate's throughput is measured in (data/estimate.py).
SIDES = {
    "padded": ("pairs", ["--objective", "dpo", "--no-share-prefix"]),
    "shared": ("pairs", ["--objective", "dpo"]),
    "sft": ("train", ["--variant-type", "generative", "--method", "lora"]),
}


def train(data: Path, out: Path, flags: list[str], steps: int, seed: int) -> list[dict]:
    """One run of `steps` optimizer steps; its per-step records from metrics.jsonl."""
    cmd = [sys.executable, "-m", "tuneforge", "train", str(data), "--max-steps", str(steps), "--seed", str(seed),
           "--out", str(out), "--overwrite", "--report-to", "none", "--no-progress", *flags]
    log = out.with_suffix(".log")
    with log.open("w") as sink:
        if subprocess.run(cmd, stdout=sink, stderr=subprocess.STDOUT).returncode:
            raise SystemExit(f"{' '.join(cmd)} failed; see {log}")
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return [r for r in records if "loss" in r and "step" in r]


def window_rate(steps: list[dict]) -> tuple[float, float]:
    """(real tokens/s, computed share) over steps 2..N: the records' counters are cumulative."""
    first, last = steps[0], steps[-1]
    tokens = last["trained_tokens"] - first["trained_tokens"]
    computed = last["computed_tokens"] - first["computed_tokens"]
    return tokens / (last["time_s"] - first["time_s"]), computed / tokens


def one_batch_difference(pairs_file: Path, n_pairs: int = 8) -> tuple[float, float]:
    """(relative loss difference, relative gradient-norm difference) between the two layouts on one batch of the
    pairs, at the same weights (the bundled base with a LoRA adapter whose B matrices are moved off zero)."""
    import torch

    from tuneforge.config import TrainConfig
    from tuneforge.data.formats import load_examples
    from tuneforge.models.load import load_model, load_tokenizer
    from tuneforge.models.resolve import resolve_base
    from tuneforge.train.dpo import collate_pairs, encode_pair, make_dpo_loss
    from tuneforge.train.methods import make_trainable
    from tuneforge.train.objective import batch_layout

    torch.manual_seed(0)
    pairs, _ = load_examples(pairs_file)
    base = resolve_base(TrainConfig(data="x").base)
    tokenizer = load_tokenizer(base.path)
    model = make_trainable(load_model(base.path), TrainConfig(data="x", lora_dropout=0.0))
    with torch.no_grad():  # a fresh adapter is zero, and the policy would equal the reference
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.01)
    encoded = [encode_pair(tokenizer, p, 512) for p in pairs[:n_pairs]]
    loss_module = make_dpo_loss(model, 0.1)
    results = {}
    for name, share in (("padded", False), ("shared", True)):
        batch = collate_pairs(encoded, batch_layout(TrainConfig(data="x", share_prefix=share), tokenizer.pad_token_id))
        assert ("prefix_ids" in batch) == share, name
        model.zero_grad()
        loss, _ = loss_module(batch)
        loss.backward()
        grad = torch.cat([p.grad.flatten() for p in model.parameters() if p.requires_grad])
        results[name] = (loss.item(), grad)
    (loss_p, grad_p), (loss_s, grad_s) = results["padded"], results["shared"]
    return abs(loss_s - loss_p) / abs(loss_p), float((grad_s - grad_p).norm() / grad_p.norm())


def main() -> None:
    from tuneforge.data.formats import load_examples

    ap = argparse.ArgumentParser()
    ap.add_argument("--train-file", default="examples/invoice-categories/train.jsonl")
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--rounds", type=int, default=2, help="runs of each layout, the order alternating by round")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--work", required=True)
    args = ap.parse_args()

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    examples, _ = load_examples(args.train_file)
    pairs = work / "pairs.jsonl"
    write_pairs(pairs, examples, args.seed)
    print(f"{args.train_file}: {len(examples)} pairs, {args.steps} steps per run, {args.rounds} round(s)", flush=True)
    loss_diff, grad_diff = one_batch_difference(pairs)
    print(f"one batch of 8 pairs, same weights: loss differs by {loss_diff:.1e}, gradient by {grad_diff:.1e} "
          "(relative)", flush=True)

    files = {"pairs": pairs, "train": Path(args.train_file)}
    rates: dict[str, list[tuple[float, float]]] = {name: [] for name in SIDES}
    curves: dict[str, list[float]] = {}
    for k in range(args.rounds):
        order = list(SIDES) if k % 2 == 0 else list(reversed(SIDES))
        for name in order:
            data, flags = SIDES[name]
            steps = train(files[data], work / f"{name}_{k}", flags, args.steps, args.seed)
            rate, share = window_rate(steps)
            rates[name].append((rate, rate * share))
            curves.setdefault(name, [s["loss"] for s in steps])
            print(f"round {k + 1} {name:7s} {rate:7.1f} real tokens/s, {100 * share:5.1f}% of them computed "
                  f"({rate * share:.1f}/s)", flush=True)
    real = {name: statistics.median(r for r, _ in rates[name]) for name in SIDES}
    computed = {name: statistics.median(c for _, c in rates[name]) for name in SIDES}
    print(f"\nmedian real tokens/s: padded {real['padded']:.1f}, shared {real['shared']:.1f}; shared / padded = "
          f"{real['shared'] / real['padded']:.2f}x")
    diff = max(abs(a - b) / max(abs(b), 1e-12) for a, b in zip(curves["shared"], curves["padded"]))
    print(f"loss curves over {len(curves['padded'])} steps: largest relative difference {diff:.2e}")
    print(f"median computed tokens/s: SFT LoRA {computed['sft']:.1f}, DPO (shared) {computed['shared']:.1f}, DPO "
          f"(padded) {computed['padded']:.1f}; a DPO computed token costs {computed['sft'] / computed['shared']:.2f}x "
          f"(shared) / {computed['sft'] / computed['padded']:.2f}x (padded) an SFT one")


if __name__ == "__main__":
    main()
