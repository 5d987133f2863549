"""The learning-rate schedule over optimizer steps, as TrainConfig names it: warm-up for `warmup_ratio` of the
steps, then cosine, linear or constant. The generative loop (train/sft.py) and the classification head's loop
(train/classification.py) both take it from here."""

from __future__ import annotations


def make_scheduler(optimizer, cfg, total_steps: int):
    """transformers' scheduler for cfg.schedule over `total_steps` optimizer steps."""
    from transformers import get_constant_schedule_with_warmup, get_cosine_schedule_with_warmup
    from transformers import get_linear_schedule_with_warmup

    warmup = int(round(total_steps * cfg.warmup_ratio))
    if cfg.schedule == "cosine":
        return get_cosine_schedule_with_warmup(optimizer, warmup, total_steps)
    if cfg.schedule == "linear":
        return get_linear_schedule_with_warmup(optimizer, warmup, total_steps)
    return get_constant_schedule_with_warmup(optimizer, warmup)
