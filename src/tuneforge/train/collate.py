"""Batches of encoded examples: right-padded rows, or one padding-free packed row.

Packing concatenates a micro-batch into a single row whose position ids restart at 0 for every example and
passes no attention mask; transformers (>= 4.57 masking_utils) then reads example boundaries from the position
ids and builds a block-diagonal causal mask, so no example attends to another. Each example's first label is
ignored because in the packed row it would be "predicted" from the previous example's last token.
"""

from __future__ import annotations

from tuneforge.chat_encoding import IGNORE_INDEX, Encoded, prefix_computed_once


def collate(batch: list[Encoded], pad_id: int) -> dict:
    import torch

    width = max(len(e.input_ids) for e in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), IGNORE_INDEX, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, e in enumerate(batch):
        n = len(e.input_ids)
        ids[row, :n] = torch.tensor(e.input_ids)
        labels[row, :n] = torch.tensor(e.labels)
        mask[row, :n] = 1
    return {"input_ids": ids, "labels": labels, "attention_mask": mask}


def collate_packed(batch: list[Encoded]) -> dict:
    import torch

    ids: list[int] = []
    labels: list[int] = []
    positions: list[int] = []
    for e in batch:
        ids.extend(e.input_ids)
        labels.extend([IGNORE_INDEX] + e.labels[1:])
        positions.extend(range(len(e.input_ids)))
    as_row = lambda xs: torch.tensor([xs], dtype=torch.long)  # noqa: E731
    return {"input_ids": as_row(ids), "labels": as_row(labels), "position_ids": as_row(positions)}


def collate_shared_prefix(batch: list[Encoded], pad_id: int) -> dict:
    """A batch whose common prefix is computed once instead of once per example (exact: causal attention means
    the prefix's states do not depend on what follows). Falls back to `collate` when the prefix is short."""
    import torch

    n = prefix_computed_once(batch)
    if not n:
        return collate(batch, pad_id)
    rest = collate([Encoded(e.input_ids[n:], e.labels[n:]) for e in batch], pad_id)
    return {"prefix_ids": torch.tensor([batch[0].input_ids[:n]], dtype=torch.long), **rest}


def trained_positions(e: Encoded) -> int:
    """Answer tokens that carry loss: a label at position 0 is never predicted (nothing precedes it)."""
    return sum(1 for x in e.labels[1:] if x != IGNORE_INDEX)

