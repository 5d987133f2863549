"""Choosing the next token for one row: greedy, or temperature + top-p sampling with the row's own seed.

Each request keeps its own torch.Generator, so a `seed` gives the same answer whichever requests it happens to
be batched with.
"""

from __future__ import annotations

MIN_TEMPERATURE = 1e-6  # below this (and 0), greedy: a float32 division by ~1e-300 would give NaN


def sample_row(logits, temperature: float, top_p: float, generator) -> int:
    import torch

    if temperature < MIN_TEMPERATURE:
        return int(torch.argmax(logits))
    logits = logits.float()
    # Shifted so the best token scores 0: a tiny temperature then gives -inf elsewhere, never inf - inf = NaN.
    probs = torch.softmax((logits - logits.max()) / temperature, dim=-1)
    if top_p < 1.0:
        sorted_p, order = torch.sort(probs, descending=True)
        keep = torch.cumsum(sorted_p, dim=-1) - sorted_p < top_p
        keep[0] = True  # the most likely token always stays (a top_p below float32's range would drop it)
        probs = torch.zeros_like(probs).scatter(0, order[keep], sorted_p[keep])
    return int(torch.multinomial(probs, 1, generator=generator))

