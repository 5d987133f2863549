"""The classification head's training loop as the two classification benchmarks run it (classification_defaults.py,
classification_ablation.py): AdamW on the trainable parameters, the run's learning-rate schedule, length-grouped
batches of cached frozen-layer features, gradient clipping at 1.0, one optimiser step per batch. It is
train/classification.train_classifier's loop without its logging, early stopping and checkpointing, so settings
measured here are the ones that function trains with.
"""

from __future__ import annotations

import math


def head_epochs(model, top, cfg, feats: list, targets: list[int], lengths: list[int], seed: int,
                smoothing: float = 0.0):
    """Train `model` (its head read through `top`, a train.classification.TopLayers) for cfg.epochs over `feats`;
    yield each epoch's number when it ends, so the caller measures what it wants between epochs."""
    import torch

    from tuneforge.train.batching import plan_epoch
    from tuneforge.train.lr_schedule import make_scheduler

    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = make_scheduler(opt, cfg, math.ceil(len(targets) / cfg.batch_size) * cfg.epochs)
    for epoch in range(1, cfg.epochs + 1):
        for micro in (p[0][0] for p in plan_epoch(lengths, cfg.batch_size, 1, 1, seed, epoch, True)):
            target = torch.tensor([targets[i] for i in micro])
            loss = torch.nn.functional.cross_entropy(top.logits([feats[i] for i in micro]), target,
                                                     label_smoothing=smoothing)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
        yield epoch
