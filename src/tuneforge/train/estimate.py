"""A memory and time estimate printed before training starts, so an out-of-memory run or a 10-hour run is
announced instead of discovered.

Memory = weights + gradients and AdamW state of the trained parameters + activations of one micro-batch + the
logits of one loss chunk. Activations per token and layer are ~ (10 x hidden + 4 x intermediate) values kept for
backward (attention projections, norms, MLP); gradient checkpointing keeps one hidden vector per layer instead.
Time = training FLOPs (6 x params per token for full fine-tuning, 4 x for adapters, which skip weight gradients of
the frozen base) divided by a throughput measured here on a short matmul, at the ~50% of matmul speed a whole
training step reaches. Both are estimates: the progress bar's ETA takes over after the first steps.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

GIB = 1024**3


def _size(gib: float) -> str:
    return f"{gib:.2f} GiB" if gib >= 0.1 else f"{gib * 1024:.1f} MiB"


@dataclass
class Estimate:
    weights_gib: float
    optimizer_gib: float
    activations_gib: float
    total_gib: float
    flops: float
    seconds: float

    def describe(self) -> str:
        minutes = self.seconds / 60
        when = f"{self.seconds:.0f} s" if minutes < 2 else f"{minutes:.0f} min"
        return (
            f"estimate: ~{_size(self.total_gib)} peak (weights {_size(self.weights_gib)}, grads+AdamW "
            f"{_size(self.optimizer_gib)}, activations {_size(self.activations_gib)}), ~{when} for {self.flops:.2e} FLOPs"
        )


def measured_flops_per_s(device, precision: str, seconds: float = 0.2) -> float:
    import torch

    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    n = 1024
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    (a @ b).sum().item()  # warm-up
    runs, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        (a @ b).sum().item()
        runs += 1
    return 2 * n**3 * runs / (time.perf_counter() - start)


def estimate_run(model, cfg, lengths: list[int], total_steps: int, precision: str, device, world: int = 1) -> Estimate:
    params = list(model.parameters())
    weights = sum(p.numel() * p.element_size() for p in params)
    n_params = sum(p.numel() for p in params)
    trainable = sum(p.numel() for p in params if p.requires_grad)
    optimizer = trainable * 4 * 3  # fp32 gradient + two AdamW moments

    conf = model.config
    hidden, inter = conf.hidden_size, getattr(conf, "intermediate_size", 4 * conf.hidden_size)
    layers, vocab = conf.num_hidden_layers, conf.vocab_size
    longest = sorted(lengths)[int(0.95 * (len(lengths) - 1))] if lengths else 0
    tokens = sum(sorted(lengths)[-cfg.batch_size:]) if cfg.packing else cfg.batch_size * longest
    act_bytes = 2 if precision == "bf16" else 4
    per_token_layer = hidden if cfg.gradient_checkpointing else 10 * hidden + 4 * inter
    activations = tokens * (layers * per_token_layer + 2 * hidden) * act_bytes
    chunk = cfg.loss_chunk_size or tokens
    activations += min(chunk, tokens) * vocab * 4 * 2
    total = weights + optimizer + activations

    mean_len = sum(lengths) / max(len(lengths), 1)
    tokens_total = mean_len * cfg.batch_size * cfg.grad_accum * world * total_steps
    flops = (6 if cfg.method == "full" else 4) * n_params * tokens_total
    seconds = flops / (0.5 * measured_flops_per_s(device, precision) * world)
    return Estimate(weights / GIB, optimizer / GIB, activations / GIB, total / GIB, flops, seconds)
