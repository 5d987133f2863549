"""Deterministic, seeded train/eval split; stratified by answer when the answers are labels."""

from __future__ import annotations

import random
from array import array
from collections import defaultdict

from tuneforge.data.formats import Example
from tuneforge.data.labels import LabelTally
from tuneforge.data.normalise import normalise_answer


def split_examples(examples: list[Example], eval_fraction: float, seed: int) -> tuple[list[Example], list[Example]]:
    if eval_fraction <= 0 or len(examples) < 2:
        return list(examples), []
    rng = random.Random(seed)
    tally = LabelTally()  # label_set's decision in one pass, without a list of every answer
    for e in examples:
        tally.add(e.answer)
    if tally.labels():
        groups: dict[str, array] = defaultdict(lambda: array("q"))  # positions: 8 bytes each
        for i, e in enumerate(examples):
            groups[normalise_answer(e.answer)].append(i)
        held: list[int] = []
        for key in sorted(groups):
            idx = groups[key]
            rng.shuffle(idx)
            # A class with one example stays in training: it cannot be learned and tested at once.
            take = round(len(idx) * eval_fraction) if len(idx) > 1 else 0
            held.extend(idx[:take])
    else:
        order = array("q", range(len(examples)))
        rng.shuffle(order)
        held = order[: max(1, round(len(examples) * eval_fraction))]
    held_set = set(held)
    if hasattr(examples, "iter_indexed"):  # rows read back from disk (row_store.py) stay there: split by index
        from tuneforge.data.row_store import Subset

        return (Subset(examples, (i for i in range(len(examples)) if i not in held_set)),
                Subset(examples, sorted(held_set)))
    train = [e for i, e in enumerate(examples) if i not in held_set]
    evals = [e for i, e in enumerate(examples) if i in held_set]
    return train, evals
