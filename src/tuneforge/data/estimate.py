"""Before a run: roughly how long training will take on this machine and how much memory it needs. The one
estimator: `tuneforge data report` and `tuneforge train` both call `estimate_training` with a TrainConfig and the
same per-example token counts, so they print the same numbers (docs/training.md states the measured error).

Time is the work training computes over a measured throughput. The work is the data's tokens less what prefix
sharing skips: SFT batches run a prompt start that every row shares (the system prompt) once per micro-batch, not
once per row (train/collate.py), which on a file of short inputs under a long system prompt is most of the tokens;
so throughput is counted in computed tokens. It comes from the newest run of the same base model and method in
TUNEFORGE_HOME/runs (its run.json "computed_tokens_per_s", measured on this very machine), else the newest of the
other method (LoRA for full fine-tuning and back, converted), else the reference figure
MEASURED_COMPUTED_TOKENS_PER_S for smollm2-135m (one thread, scaled by TWO_THREAD_SPEEDUP to the threads training
takes; a measured run on another thread count is converted alike). Counting the data's tokens instead made the
extraction demo's estimate 13 minutes for a training of 30 (on two threads): the reference file's rows came to 2.7
data tokens per computed token, the extraction demo's to 1.17 (benchmarks/RESULTS.md, "The training estimate counts
computed tokens"). Per-token compute grows with the parameter count, so the reference is scaled to another base
model by the ratio of parameters. Full fine-tuning also computes every weight's gradient, but LoRA still carries the
frozen weights' input gradients and its own adapter matmuls: measured, full took FULL_FINETUNE_SLOWDOWN x LoRA's
time per token, the 1.5 that forward 1x + backward 2x suggests; every optimizer step also takes time that no token
drives (STEP_TOKENS). Memory adds fp32 weights,
optimizer state for what is trained, activations per token (Korthikanti et al. 2022: ~34 bytes x hidden size per
token per layer in 16-bit, twice that in fp32; with gradient checkpointing one hidden vector per layer plus one
layer's worth) and the logits over the vocabulary at the answer positions (the trainer computes no others). Both are
estimates to plan with, stated as such, not promises.
"""

from __future__ import annotations

import json
import math
import struct
from array import array
from dataclasses import dataclass
from pathlib import Path


# Measured with `OMP_NUM_THREADS=1 taskset -c 0 python benchmarks/step_cost.py --examples 128 --batches 2,4,8,16`
# on the development machine (2 CPU cores, AMD EPYC with AVX-512, nothing else running) on 2026-12-02, in fp32 (what
# precision=auto trains in on a CPU): smollm2-135m on 128 invoice-demo lines of 95-99 tokens, one epoch at each batch
# size, steady state after the first step. Least squares of each run's seconds on (its optimizer steps, its computed
# tokens), each of the four runs within 1.3% of the fit for LoRA r=16 and 5.2% for full fine-tuning:
#   LoRA: 111.6 computed tokens/s, plus 0.400 s a step;   full: 73.7 computed tokens/s, plus 0.551 s a step.
# A step's own time (the optimizer, gradient clipping and zeroing, the per-step work of the loop) does not depend on
# the batch's tokens, so counting tokens alone made runs of small batches short: at batch 4 the steps are a fifth of
# either method's time. It is kept as tokens of the method's own one-thread pace (STEP_TOKENS), and a
# measured run's pace leaves its steps out. (The figure before, 80.3 for LoRA at batch 8 steps included on a machine
# without AVX-512, was 96.7 here.) A run of the same base model on this machine, when there is one, takes precedence.
# Remeasure when the trainer or machine changes (benchmarks/RESULTS.md, "An optimizer step's own time"). The split
# between a step and a token is uncertain: the same command a day later gave LoRA 118.4 tokens/s + 0.346 s a step
# and full 84.5 + 1.059 s (RESULTS.md, "The sweep repeated, and on two threads"); these constants were kept.
MEASURED_COMPUTED_TOKENS_PER_S = 111.6
MEASURED_PARAMS = 134_515_008  # smollm2-135m, counted from its safetensors header
# Full fine-tuning computes every weight's gradient besides the input's: per token 111.6 / 73.7 = 1.515x LoRA's time,
# the 1.5 that forward 1x + backward 2x suggests. (On the extraction demo's long rows, on the machine without
# AVX-512, whole runs measured 1.07x; that figure held both methods' steps and attention over 800-token rows.)
FULL_FINETUNE_SLOWDOWN = 1.515
# An optimizer step's own time, in computed tokens at the method's one-thread SFT pace: 0.400 x 111.6 and
# 0.551 x 73.7. It is not scaled by threads: fitted over their own step logs, a full run on one thread and one on two
# gave the same step time (0.38 s; such a fit mixes a step's cost with padding, so only the likeness is used).
STEP_TOKENS = {"adapter": 44.6, "full": 40.6}
# A DPO computed token against an SFT one: its policy pass with backward, plus the reference pass (the base with the
# adapter off, under no_grad). Measured on 2026-12-01 with benchmarks/dpo_throughput.py on one pinned core (AMD EPYC
# with AVX-512): the invoice demo's pairs at the default shared-prompt layout, 58.4 and 55.7 computed tokens/s,
# against SFT LoRA on the same rows at 84.9 and 87.2, in two rounds; the ratio of the medians. (Padded, DPO computes
# the prompt too and its token costs 1.11x: the estimate is long for --no-share-prefix.) Measured runs of either
# objective convert through it, so one run on this machine serves both estimates.
DPO_TOKEN_COST = 1.51
# A classification head's run (train/classification.py): the tokens the head reads x the parameters of the layers
# it trains, plus costs its tokens do not drive (loading, the linear probe, the n-gram fusion, calibration, saving).
# Measured on 2026-12-01 with `tuneforge train FILE [--epochs E]` on one pinned idle core of the development machine
# (AMD EPYC without AVX-512), multilingual-e5-small (21.49M parameters in its 12 layers), five runs: the invoice demo
# at 3, 9 and 15 epochs (17,367 / 52,101 / 86,835 tokens in 67.1 / 141.8 / 223.6 s) and task_quality.py's topics-es
# and topics-en splits with no flags (29,060 / 38,540 tokens in 102.8 / 108.6 s). Least squares: 30.0 s + 2.206 ms a
# token, every run within 8% (a rate alone, as before, was 25% short on the 3-epoch run and 18% on topics-es). So
# 453.3 tokens/s = 9.74G parameter-tokens/s, and the fixed part is counted as CLS_FIXED_TOKENS tokens at that pace,
# so it scales with a machine's speed like the rest. A classification run of the same base on this machine, when
# there is one, takes precedence. benchmarks/RESULTS.md, "The estimate for a head's fixed costs".
MEASURED_CLS_PARAM_TOKENS_PER_S = 9.74e9
CLS_FIXED_TOKENS = 13_600
# The reference figures above are for one thread; training takes every core it may use. Measured on 2026-12-01 on
# the development machine (2 cores, nothing else running), each figure's own command at OMP_NUM_THREADS=2 against
# 1 (one pinned core), two runs each: LoRA steady state 121.1 against 71.5 computed tokens/s, 1.69x; the no-flag
# e5 head's whole run 450.7 against 360.4 tokens/s, 1.25x (loading, the probe and the n-gram fusion run on one
# thread). More than two threads were not measured here, so they count as two: an estimate on a larger machine is
# long until its first run there is measured. benchmarks/RESULTS.md, "The estimate on two threads".
TWO_THREAD_SPEEDUP = {"generative": 1.69, "classification": 1.25}
# What the reference rates leave out of a generative run, said beside the estimate rather than guessed: on the invoice
# demo's full fine-tunes (3 epochs, one thread) they took 30.5 s of 595 s and 45.4 s of 661 s, most of it the
# held-out pass (24 and 36 rows); DPO's held-out pairs run both models, 178 s of 2,592 s with 36 pairs
# (benchmarks/RESULTS.md, "The sweep repeated, and on two threads").
NOT_COUNTED = ("not counted: loading the model, the held-out evaluation and checkpoint at each epoch's end, and "
               "saving (30-45 s on the invoice demo's full fine-tunes; longer with many held-out rows)")
ADAPTER_METHODS = ("lora", "dora")  # throughput measured in one applies to the other (QLoRA dequantizes: not used)
# Resident memory of a Python process that has imported torch, transformers, peft and accelerate, before any
# model: `/usr/bin/time -f %M python -c "import torch, transformers, peft, accelerate"` gave 389,452 KB here.
RUNTIME_BYTES = 389_452 * 1024


@dataclass
class ModelShape:
    params: int
    hidden: int
    layers: int
    vocab: int
    intermediate: int
    heads: int
    kv_heads: int


def count_parameters(model_dir: str | Path) -> int:
    """Parameters from the safetensors headers: no weights are loaded."""
    total = 0
    for f in sorted(Path(model_dir).glob("*.safetensors")):
        with f.open("rb") as fh:
            (n,) = struct.unpack("<Q", fh.read(8))
            header = json.loads(fh.read(n))
        total += sum(math.prod(t["shape"]) for k, t in header.items() if k != "__metadata__")
    return total


def model_shape(model_dir: str | Path) -> ModelShape:
    cfg = json.loads((Path(model_dir) / "config.json").read_text(encoding="utf-8"))
    hidden = int(cfg.get("hidden_size", 0))
    heads = int(cfg.get("num_attention_heads", 1))
    return ModelShape(
        params=count_parameters(model_dir), hidden=hidden, layers=int(cfg.get("num_hidden_layers", 0)),
        vocab=int(cfg.get("vocab_size", 0)), intermediate=int(cfg.get("intermediate_size", 4 * hidden)),
        heads=heads, kv_heads=int(cfg.get("num_key_value_heads", heads)),
    )


def lora_parameters(shape: ModelShape, rank: int = 16) -> int:
    """LoRA on all linear layers of a Llama-style block: r x (in + out) per projection."""
    h, i = shape.hidden, shape.intermediate
    kv = h * shape.kv_heads // max(shape.heads, 1)
    pairs = [(h, h), (h, kv), (h, kv), (h, h), (h, i), (h, i), (i, h)]
    return shape.layers * sum(rank * (a + b) for a, b in pairs)


@dataclass
class Estimate:
    method: str
    train_tokens: int  # the data's tokens, every epoch
    tokens_per_s: float  # computed tokens per second (see the module's docstring)
    seconds: float
    memory_bytes: int
    memory_parts: dict[str, int]
    assumptions: list[str]
    computed_tokens: int = 0  # train_tokens less the shared prompt starts run once per batch
    shared_prefix: int = 0  # the prompt start's length, when batches share one
    # Costs that no token drives, as tokens at the run's pace: a head's loading, probe and calibration
    # (CLS_FIXED_TOKENS), a generative run's optimizer steps (STEP_TOKENS each).
    fixed_tokens: int = 0

    def work(self) -> str:
        """"~N min [(~F s of it fixed)] for T tokens [(C computed: ...)] at R tokens/s", as every view of the
        estimate says it."""
        shared = (f" ({self.computed_tokens:,} computed: each batch runs the {self.shared_prefix}-token prompt start "
                  "the rows share once)" if self.computed_tokens < self.train_tokens else "")
        what = "fixed" if "classification" in self.method else "in optimizer steps"  # a head's, or a step's
        fixed = (f" (~{human_seconds(self.fixed_tokens / self.tokens_per_s)} of it {what})"
                 if self.fixed_tokens and self.tokens_per_s > 0 else "")
        return (f"~{human_seconds(self.seconds)}{fixed} for {self.train_tokens:,} tokens{shared} at "
                f"{human_rate(self.tokens_per_s)} tokens/s")

    def describe(self) -> str:
        parts = ", ".join(f"{k} {human_bytes(v)}" for k, v in self.memory_parts.items())
        return f"estimate: {self.work()}, ~{human_bytes(self.memory_bytes)} peak ({parts})"

    def to_dict(self) -> dict:
        return {"method": self.method, "train_tokens": self.train_tokens, "computed_tokens": self.computed_tokens,
                "shared_prefix": self.shared_prefix, "tokens_per_s": round(self.tokens_per_s, 1),
                "seconds": round(self.seconds, 1), "memory_bytes": self.memory_bytes,
                "memory_parts": self.memory_parts, "assumptions": self.assumptions, "fixed_tokens": self.fixed_tokens}


def _kind(method: str | None, objective: str | None = None) -> str | None:
    if objective == "classification":  # a head's run: its own kind of work (train/classification.py)
        return "classification"
    return "full" if method == "full" else "adapter" if method in ADAPTER_METHODS else None


def cpu_threads() -> int:
    """The threads a CPU run trains on: torch's own count once torch is imported (`train`), else what it will take
    (OMP_NUM_THREADS, else the CPUs this process may run on), so `data report` need not import torch."""
    import os
    import sys

    if "torch" in sys.modules:
        return sys.modules["torch"].get_num_threads()
    try:
        return max(int(os.environ.get("OMP_NUM_THREADS", "")), 1)
    except ValueError:
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def steps_per_epoch(n: int, batch_size: int, grad_accum: int, world: int) -> int:
    """Optimizer steps an epoch of `n` items takes, as the trainer plans them (train/batching.py `plan_epoch`): one
    per global batch, and one for the tail when every process gets an item of it."""
    global_batch = batch_size * grad_accum * world
    full, tail = divmod(n, global_batch)
    return full + (1 if tail >= world else 0)


def optimizer_steps(n: int, cfg, world: int = 1) -> int:
    """The optimizer steps a run of `n` items takes: every epoch's, or max_steps when that ends it first."""
    steps = steps_per_epoch(n, cfg.batch_size, cfg.grad_accum, world) * cfg.epochs
    return min(steps, cfg.max_steps) if cfg.max_steps else steps


def step_tokens(kind: str, threads: int | None, objective: str | None = "sft") -> float:
    """One optimizer step of an "adapter" or "full" run in computed tokens at its pace on `threads` CPU threads:
    its time does not shrink with threads while a token's does, and a DPO token is dearer (STEP_TOKENS)."""
    cost = DPO_TOKEN_COST if objective == "dpo" else 1.0
    return STEP_TOKENS[kind] * thread_speedup("generative", threads) / cost


def thread_speedup(kind: str, threads: int | None) -> float:
    """How much faster than one thread a run of `kind` ("generative" or "classification") trains on `threads`."""
    return TWO_THREAD_SPEEDUP[kind] if threads and threads > 1 else 1.0


def _pace(run: dict, kind: str) -> float:
    """A run's tokens/s as the estimate counts them: a head's fixed costs are CLS_FIXED_TOKENS tokens of its work,
    and a DPO run's tokens are counted as SFT tokens (DPO_TOKEN_COST each)."""
    if kind == "classification" and run.get("trained_tokens") and run.get("wall_time_s"):
        return (run["trained_tokens"] + CLS_FIXED_TOKENS) / run["wall_time_s"]
    pace = float(run["computed_tokens_per_s"])
    steps = (run.get("metrics") or {}).get("steps")
    if steps and run.get("wall_time_s"):  # its optimizer steps' own time, counted as tokens (STEP_TOKENS)
        pace += steps * step_tokens(kind, run.get("cpu_threads"), run.get("objective")) / run["wall_time_s"]
    return pace * (DPO_TOKEN_COST if run.get("objective") == "dpo" else 1.0)


def measured_throughput(base_name: str | None, method: str = "lora",
                        objective: str = "sft") -> tuple[float, str] | None:
    """(computed tokens/s for `method`, where from): the newest run of `base_name` on this machine by the same
    method, else the newest by the other (adapter or full), converted by FULL_FINETUNE_SLOWDOWN; None when none.
    A classification head's run (`objective="classification"`) is read only from classification runs. A CPU run
    on another thread count than this process's (`cpu_threads` in run.json) is converted by `thread_speedup`."""
    if not base_name:
        return None
    from tuneforge.paths import runs_dir

    newest: dict[str, tuple] = {}
    for run_file in runs_dir().glob("*/run.json"):
        try:
            run = json.loads(run_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        kind = _kind(run.get("method"), run.get("objective"))
        # Runs from before computed tokens were recorded are passed over: their tokens/s counted shared prompt
        # starts as work, by a factor that depends on their data.
        if run.get("base", {}).get("name") == base_name and kind and run.get("computed_tokens_per_s"):
            if kind not in newest or run.get("created_at", "") > newest[kind][0]:
                newest[kind] = (run.get("created_at", ""), _pace(run, kind), run_file.parent.name,
                                run.get("cpu_threads"))
    wanted = _kind(method, objective) or "adapter"
    other = "full" if wanted == "adapter" else "adapter"
    if wanted in newest:
        _, tps, name, threads = newest[wanted]
        source = f"measured in run {name} on this machine"
    elif wanted != "classification" and other in newest:
        _, tps, name, threads = newest[other]
        tps *= FULL_FINETUNE_SLOWDOWN if wanted == "adapter" else 1 / FULL_FINETUNE_SLOWDOWN
        source = (f"measured in run {name} ({'full fine-tuning' if other == 'full' else 'an adapter'}) on this "
                  f"machine, taking full fine-tuning as {FULL_FINETUNE_SLOWDOWN}x an adapter's time per token")
    else:
        return None
    now = cpu_threads()
    work = "classification" if wanted == "classification" else "generative"  # TWO_THREAD_SPEEDUP's key
    if threads and thread_speedup(work, threads) != thread_speedup(work, now):  # a GPU run records no threads
        tps *= thread_speedup(work, now) / thread_speedup(work, threads)
        source += f", converted from its {threads} CPU thread(s) to {now}"
    return tps, source


def example_token_counts(tokenizer, examples, max_seq_len: int, dpo: bool = False) -> tuple[array, array, int]:
    """(tokens, answer tokens) per example as training encodes it, and the length of the prompt start all of them
    share. DPO trains on both conversations of a pair; SFT on its chosen one only (the rejected answer is left out)."""
    from tuneforge.chat_encoding import common_start, encode_conversation

    tokens, answers = array("i"), array("i")  # 4 bytes per row each
    prefix = None  # the prompt start every conversation shares, folded row by row (nothing else is kept)
    for ex in examples:
        convs = [ex.messages]
        if dpo and ex.is_preference:
            convs.append(ex.rejected_messages)
        encoded = [encode_conversation(tokenizer, c, max_seq_len) for c in convs]
        tokens.append(sum(len(e.input_ids) for e in encoded))
        answers.append(sum(e.n_answer_tokens for e in encoded))
        for e in encoded:
            prefix = common_start(prefix, e)
    return tokens, answers, len(prefix or [])


def estimate_training(shape: ModelShape, token_counts: list[int], cfg, base_name: str | None = None,
                      answer_tokens: list[int] | None = None, world: int = 1, precision: str = "fp32",
                      shared_prefix: int = 0, encoder: bool = False) -> Estimate:
    """Time and peak memory of training on examples of `token_counts` tokens with TrainConfig `cfg` (method,
    epochs, batch size, LoRA rank, max_seq_len, packing, prefix sharing, gradient checkpointing, max_steps);
    `shared_prefix` is the prompt start every example shares (`example_token_counts`). For a classification
    variant (`cfg.variant_type`), `token_counts` are what its head reads (models/classifier.py
    `HeadReader.counts`) and `encoder` says whether the base is a sentence encoder."""
    from tuneforge.chat_encoding import MIN_SHARED_PREFIX

    if cfg.variant_type == "classification":
        return _classification_estimate(shape, token_counts, cfg, base_name, encoder)

    method = cfg.method
    adapter = method != "full"
    lengths = sorted(min(n, cfg.max_seq_len) for n in token_counts) or [0]
    tokens = _trained_tokens(lengths, cfg, world)
    # A DPO item is two rows (chosen, rejected) that share their prompt, so even one pair runs it once for both.
    rows = 2 if cfg.objective == "dpo" else 1
    shares = cfg.shares_prefix and shared_prefix >= MIN_SHARED_PREFIX and cfg.batch_size * rows > 1
    shared = shared_prefix if shares else 0
    # Per epoch, every micro-batch of `batch_size` items runs the shared start once instead of once per row.
    skipped = (rows * len(lengths) - math.ceil(len(lengths) / cfg.batch_size)) * shared
    computed = round(tokens * (1 - skipped / max(sum(lengths), 1)))
    measured = measured_throughput(base_name, method)
    if measured:
        tps, source = measured
    else:
        threads = cpu_threads()
        tps = (MEASURED_COMPUTED_TOKENS_PER_S * MEASURED_PARAMS / max(shape.params, 1)
               * thread_speedup("generative", threads))
        source = (f"{MEASURED_COMPUTED_TOKENS_PER_S:g} computed tokens/s measured for smollm2-135m LoRA on the "
                  "development machine (one idle CPU core), scaled by parameter count"
                  + _threads_note("generative", threads))
        if not adapter:
            tps /= FULL_FINETUNE_SLOWDOWN
            source += f", full fine-tuning taken as {FULL_FINETUNE_SLOWDOWN}x LoRA's time per token (measured)"
    if cfg.objective == "dpo":  # the rates above are SFT's (a DPO run's is converted by _pace)
        tps /= DPO_TOKEN_COST
        source += f", a DPO token taken as {DPO_TOKEN_COST:g}x an SFT token's time (its reference pass; measured)"
    tps *= world
    # Each process takes its own optimizer step at once, so a step costs `world` times a process's step tokens.
    steps = optimizer_steps(len(token_counts), cfg, world)
    kind = "adapter" if adapter else "full"  # STEP_TOKENS' key
    in_steps = round(steps * step_tokens(kind, cpu_threads(), cfg.objective) * world)
    seconds = (computed + in_steps) / tps if tps > 0 else float("nan")
    seq = p95_length(lengths)  # a batch is padded to its longest: the p95 stands for a typical batch's
    batch, row = (1, sum(lengths[-cfg.batch_size:])) if cfg.packing else (cfg.batch_size, seq)
    # The trainer projects to the vocabulary only at answer positions (train/loss.py), in chunks.
    answers = sorted(answer_tokens) if answer_tokens else lengths
    if cfg.packing:
        logit_positions = sum(answers[-cfg.batch_size:])
    else:
        logit_positions = cfg.batch_size * min(p95_length(answers), seq)
    if cfg.loss_chunk_size:
        logit_positions = min(logit_positions, cfg.loss_chunk_size)
    trained = lora_parameters(shape, cfg.lora_r) if adapter else shape.params
    act_bytes = 2 if precision == "bf16" else 4
    per_layer = shape.hidden * act_bytes if cfg.gradient_checkpointing else 17 * shape.hidden * act_bytes
    parts = {
        "weights": shape.params // 2 if method == "qlora" else 4 * shape.params,
        "gradients + AdamW state (fp32)": 12 * trained,
        "activations": per_layer * shape.layers * batch * row
        + (17 * shape.hidden * act_bytes * batch * row if cfg.gradient_checkpointing else 0),
        "logits": 3 * 4 * logit_positions * shape.vocab,
        "runtime (torch, transformers)": RUNTIME_BYTES,
    }
    assumptions = [
        f"throughput {human_rate(tps)} computed tokens/s: {source}" + (f", x{world} processes" if world > 1 else ""),
        f"batch {cfg.batch_size}, " + (f"packed into rows of {row} tokens" if cfg.packing else
                                       f"padded to {seq} tokens (95th percentile length)") + f", {cfg.epochs} epoch(s)",
    ]
    if shared:
        assumptions.append(f"a {shared}-token prompt start shared by every example runs once per batch of "
                           f"{cfg.batch_size * rows} rows, not once per row (--no-share-prefix turns that off)")
    assumptions.append(f"{steps:,} optimizer steps, each as long as {STEP_TOKENS[kind]:g} "
                       "tokens on one thread whatever its batch holds, and as long on more threads (measured on one)")
    if not measured:  # a measured run's pace holds them, spread over its tokens (its whole wall time)
        assumptions.append(NOT_COUNTED)
    return Estimate(method, tokens, tps, seconds, sum(parts.values()), parts, assumptions, computed, shared,
                    in_steps)


def _threads_note(kind: str, threads: int) -> str:
    if threads <= 1:
        return ""
    return (f", x{thread_speedup(kind, threads):g} on {threads} CPU threads (measured on two"
            + ("; more count as two)" if threads > 2 else ")"))


def _trained_tokens(lengths: list[int], cfg, world: int = 1) -> int:
    """The tokens every epoch reads, or fewer when max_steps ends the run first (a step takes batch x grad_accum
    examples per process)."""
    tokens = sum(lengths) * cfg.epochs
    if cfg.max_steps:
        per_step = sum(lengths) / len(lengths) * cfg.batch_size * cfg.grad_accum * world
        tokens = min(tokens, int(per_step * cfg.max_steps))
    return tokens


def p95_length(sorted_lengths) -> int:
    """The 95th percentile of sorted lengths, a length that occurs (nearest rank): the one definition for the
    estimate, the report and the encoder rule."""
    return sorted_lengths[max(math.ceil(0.95 * len(sorted_lengths)) - 1, 0)]


def _head_layers(shape: ModelShape, cfg, encoder: bool) -> tuple[int, int]:
    """(layers a classification run keeps, layers it trains): an encoder trains whole; a decoder keeps its bottom
    classifier_depth layers and trains the top classifier_layers of them (0: all), the rest run once."""
    kept = min(cfg.classifier_depth or shape.layers, shape.layers)
    trained = kept if encoder or not cfg.classifier_layers else min(cfg.classifier_layers, kept)
    return kept, trained


def _classification_estimate(shape: ModelShape, token_counts: list[int], cfg, base_name: str | None,
                             encoder: bool) -> Estimate:
    """A head's run (train/classification.py): every epoch runs forward and backward through the trained layers
    only, so the work is tokens x the parameters of those layers; the rate comes from the newest classification
    run of the same base on this machine, else MEASURED_CLS_PARAM_TOKENS_PER_S."""
    lengths = sorted(token_counts) or [0]
    tokens = _trained_tokens(lengths, cfg)
    embeddings = shape.vocab * shape.hidden
    per_layer = max(shape.params - embeddings, 0) // max(shape.layers, 1)
    kept, trained_layers = _head_layers(shape, cfg, encoder)
    body = per_layer * trained_layers
    measured = measured_throughput(base_name, cfg.method, "classification")
    if measured:
        tps, source = measured
    else:
        threads = cpu_threads()
        tps = MEASURED_CLS_PARAM_TOKENS_PER_S / max(body, 1) * thread_speedup("classification", threads)
        source = (f"{MEASURED_CLS_PARAM_TOKENS_PER_S / 1e9:g}G parameter-tokens/s measured for the "
                  "multilingual-e5-small head on the development machine (one idle CPU core), over this run's "
                  f"{body / 1e6:.1f}M parameters in trained layers" + _threads_note("classification", threads))
    if cfg.method == "full" or encoder:  # an encoder trains whole, its word embeddings frozen or not
        trained = body + (0 if cfg.classifier_freeze_embeddings else embeddings)
    else:
        trained = lora_parameters(shape, cfg.lora_r) * trained_layers // max(shape.layers, 1)
    seq = p95_length(lengths)  # a batch is padded to its longest: the p95 stands for a typical batch's
    parts = {
        "weights": 4 * (embeddings + per_layer * kept),
        "gradients + AdamW state (fp32)": 12 * trained,
        "activations": 17 * shape.hidden * 4 * trained_layers * cfg.batch_size * seq,
        "runtime (torch, transformers)": RUNTIME_BYTES,
    }
    assumptions = [
        f"throughput {human_rate(tps)} tokens/s: {source}",
        f"batch {cfg.batch_size} padded to {seq} tokens (95th percentile length), {cfg.epochs} epoch(s) at most",
        f"a classification head; loading, the probe, the n-gram fusion and calibration take as long as "
        f"{CLS_FIXED_TOKENS:,} tokens (measured)",
    ]
    seconds = (tokens + CLS_FIXED_TOKENS) / tps if tps > 0 else float("nan")
    return Estimate(f"{cfg.method}, classification head", tokens, tps, seconds, sum(parts.values()), parts,
                    assumptions, tokens, 0, CLS_FIXED_TOKENS)


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def human_rate(tokens_per_s: float) -> str:
    return f"{tokens_per_s:,.1f}" if tokens_per_s < 100 else f"{tokens_per_s:,.0f}"


def human_seconds(s: float) -> str:
    if s != s:  # NaN: no throughput figure
        return "unknown"
    if s < 90:
        return f"{s:.0f} s"
    if s < 5400:
        return f"{s / 60:.0f} min"
    return f"{s / 3600:.1f} h"
