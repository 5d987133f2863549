"""`auto` epochs, batch size and learning rate from the dataset size.

The rule (documented in docs/training.md):
- epochs: OpenAI's published default — 3 passes, raised for small sets so the model sees >= 100 examples in
  total (at most 25 epochs), lowered for large ones so it sees <= 25,000 — and, beyond OpenAI's rule, raised
  until the run makes at least MIN_STEPS optimizer steps, because with a tiny set and a sensible batch three
  epochs are only a handful of updates and LoRA barely moves.
- batch size: OpenAI scales it with the data (~0.2% of examples, capped at 256); on our hardware a batch below 4
  wastes the matmul units and above 32 gives too few updates on business-sized sets, so we take the power of two
  nearest to n/50 (about 50 steps per epoch), clamped to [4, 32] and to n.
- learning rate: a per-method base (LoRA/DoRA/QLoRA 4e-4, full 8e-5; DPO 2e-5 for LoRA, 2e-6 full) scaled by
  sqrt(batch/16), the square-root rule that, like OpenAI's multiplier of 0.05-0.2, rises with the batch size.
  The LoRA base was 2e-4 (1e-4 at the batch of 4 that sets up to ~300 examples get); doubled after three of the
  task benchmark's generative tasks answered better at 2e-4 than at 1e-4, two of them significantly
  (benchmarks/RESULTS.md, "The generative learning rate"). Full fine-tuning's base was 2e-5 (1e-5 at batch 4);
  at 4e-5, batch 4, two generative tasks answered better on every one of 3 seeds, and 1.6e-4 was no better
  (RESULTS.md, "Full fine-tuning's rate").

The classification heads have their own schedule (`head_schedule`): a fixed number of optimizer steps measured
per head, and the last epoch kept (HEAD_KEEP_BEST).
"""

from __future__ import annotations

import math

from tuneforge.data.estimate import steps_per_epoch

MIN_EXAMPLES_SEEN, MAX_EXAMPLES_SEEN, TARGET_EPOCHS, MAX_EPOCHS = 100, 25_000, 3, 25
MIN_STEPS = 60
LORA_LR_AT_16 = 4e-4  # LoRA's rate at a global batch of 16; 2e-4 at batch 4 (measured, see above)
FULL_LR_AT_16 = 8e-5  # full fine-tuning's rate at a global batch of 16; 4e-5 at batch 4 (measured, see above)
# Classification heads keep their last epoch, not the one of lowest loss on the rows `train` holds out (10%: 14-48
# rows on the benchmark's files, too few to choose an epoch on). Chosen as `train` chooses, on validation splits of
# four files, the held-out loss's epoch scored below the last, fused: by 18 rows of 406 for the e5 head (it picked
# epoch 1 or 2 on six of eight splits), by 1 for the decoder's and 3 for all-MiniLM-L6-v2's (docs/training.md).
HEAD_KEEP_BEST = False


def auto_batch_size(n: int) -> int:
    nearest = 2 ** round(math.log2(max(n / 50, 1)))
    return max(1, min(n, max(4, min(32, nearest))))


def auto_epochs(n: int, batch_size: int, grad_accum: int = 1, world: int = 1) -> int:
    epochs = TARGET_EPOCHS
    if n * TARGET_EPOCHS < MIN_EXAMPLES_SEEN:
        epochs = min(MAX_EPOCHS, math.ceil(MIN_EXAMPLES_SEEN / n))
    elif n * TARGET_EPOCHS > MAX_EXAMPLES_SEEN:
        epochs = max(1, MAX_EXAMPLES_SEEN // n)
    per_epoch = max(1, steps_per_epoch(n, batch_size, grad_accum, world))  # as the trainer plans them
    if n * TARGET_EPOCHS <= MAX_EXAMPLES_SEEN and per_epoch * epochs < MIN_STEPS:
        epochs = min(MAX_EPOCHS, max(epochs, math.ceil(MIN_STEPS / per_epoch)))
    return epochs


def auto_lr(method: str, objective: str, global_batch: int) -> float:
    if objective == "dpo":  # a tenth of SFT's rate before LoRA's and full's were raised: DPO was not measured again
        base = (2e-5 if method == "full" else 2e-4) / 10
    else:
        base = FULL_LR_AT_16 if method == "full" else LORA_LR_AT_16
    return float(f"{base * math.sqrt(global_batch / 16):.3g}")


def resolve_auto(cfg, n_train: int, world: int = 1):
    """Return (cfg with the auto fields filled in, notes saying what was chosen and why)."""
    update, notes = {}, []
    batch = cfg.batch_size
    if cfg.auto_batch_size:
        batch = auto_batch_size(n_train)
        update["batch_size"] = batch
        notes.append(f"batch_size={batch} (auto: power of two nearest {n_train}/50, within 4..32)")
    global_batch = batch * cfg.grad_accum * world
    if cfg.auto_epochs:
        update["epochs"] = auto_epochs(n_train, batch, cfg.grad_accum, world)
        notes.append(f"epochs={update['epochs']} (auto: {n_train} examples, >= {MIN_STEPS} steps)")
    if cfg.auto_lr:
        update["lr"] = auto_lr(cfg.method, cfg.objective, global_batch)
        notes.append(f"lr={update['lr']:g} (auto: {cfg.method}/{cfg.objective}, global batch {global_batch})")
    return (cfg.model_copy(update=update) if update else cfg), notes


def head_schedule(cfg, n: int, unset, batch_cap: int, target_steps: int, min_epochs: int,
                  max_epochs: int) -> tuple[dict, list[str]]:
    """The classification heads' schedule (decoder or encoder, each with its own measured constants): batch
    `batch_cap` (or n), enough epochs for about `target_steps` optimizer steps within [min_epochs, max_epochs], and
    the last epoch kept (HEAD_KEEP_BEST)."""
    update, notes = {}, []
    batch = cfg.batch_size
    if unset("batch_size"):
        batch = min(batch_cap, n)
        update["batch_size"] = batch
        notes.append(f"batch_size={batch} (classification: short inputs, {batch_cap} per step)")
    choose_keep_best = unset("keep_best")
    keep_best = HEAD_KEEP_BEST if choose_keep_best else cfg.keep_best
    if unset("epochs"):
        per_epoch = steps_per_epoch(n, batch, cfg.grad_accum, 1)  # a head trains in one process
        update["epochs"] = max(min_epochs, min(max_epochs, math.ceil(target_steps / per_epoch)))
        kept = "the best epoch by held-out loss is kept" if keep_best else "the last epoch is kept"
        notes.append(f"epochs={update['epochs']} ({n} examples / batch {batch}: about {target_steps} steps, "
                     f"{min_epochs}..{max_epochs} epochs; {kept})")
    if choose_keep_best:
        update["keep_best"] = keep_best
        notes.append(f"keep_best={keep_best} (the last epoch: on validation splits of four files, the epoch of lowest "
                     "held-out loss, chosen as train chooses, scored lower in total for each of the three heads "
                     "measured; docs/training.md)")
    return update, notes
