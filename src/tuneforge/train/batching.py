"""The order of one epoch, planned up front: steps -> processes -> micro-batches -> example indices.

Planning from (seed, epoch) alone makes the data order a pure function, so the data-loader position in a
checkpoint is just (epoch, step) and every process computes the same plan without talking to the others.
"""

from __future__ import annotations

import random

Plan = list[list[list[list[int]]]]  # steps, ranks, micro-batches, example indices

# Length grouping sorts within windows of this many global batches: long enough to cut most padding, short
# enough that a batch is still a random draw from the data.
GROUP_WINDOW = 16


def _order(lengths: list[int], global_batch: int, rng: random.Random, group_by_length: bool) -> list[int]:
    order = list(range(len(lengths)))
    rng.shuffle(order)
    if not group_by_length:
        return order
    window = global_batch * GROUP_WINDOW
    grouped: list[list[int]] = []
    for s in range(0, len(order), window):
        chunk = sorted(order[s : s + window], key=lambda i: -lengths[i])
        grouped.extend(chunk[b : b + global_batch] for b in range(0, len(chunk), global_batch))
    # Shuffle whole batches so the longest ones do not always come first.
    rng.shuffle(grouped)
    return [i for batch in grouped for i in batch]


def plan_epoch(
    lengths: list[int], batch_size: int, grad_accum: int, world: int, seed: int, epoch: int,
    group_by_length: bool = False,
) -> Plan:
    """Every example once; each step holds batch_size x grad_accum x world examples (the last may hold fewer).

    A step's examples are dealt to the processes in turn, so each process gets a similar share; a tail smaller
    than the number of processes is dropped, because a process with no batch would stall the gradient sync.
    """
    global_batch = batch_size * grad_accum * world
    order = _order(lengths, batch_size * world, random.Random(seed * 1000 + epoch), group_by_length)
    plan: Plan = []
    for s in range(0, len(order), global_batch):
        chunk = order[s : s + global_batch]
        if len(chunk) < world:
            break
        ranks = []
        for r in range(world):
            mine = chunk[r::world]
            ranks.append([mine[m : m + batch_size] for m in range(0, len(mine), batch_size)])
        plan.append(ranks)
    return plan

