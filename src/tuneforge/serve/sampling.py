"""Choosing the next token for one row: greedy, or temperature + top-p sampling with the row's own seed.

Each request keeps its own torch.Generator, so a `seed` gives the same answer whichever requests it happens to
be batched with.
"""

from __future__ import annotations


def sample_row(logits, temperature: float, top_p: float, generator) -> int:
    import torch

    if temperature <= 0:
        return int(torch.argmax(logits))
    probs = torch.softmax(logits.float() / temperature, dim=-1)
    if top_p < 1.0:
        sorted_p, order = torch.sort(probs, descending=True)
        keep = torch.cumsum(sorted_p, dim=-1) - sorted_p < top_p  # always keeps the most likely token
        probs = torch.zeros_like(probs).scatter(0, order[keep], sorted_p[keep])
    return int(torch.multinomial(probs, 1, generator=generator))

