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


def constrained_row(logits, temperature: float, top_p: float, generator, allowed, max_tries: int = 16) -> int | None:
    """Like sample_row, but only tokens for which `allowed(token_id)` is true; None if none is found."""
    import torch

    work = logits.clone().float()
    for _ in range(max_tries):
        tok = sample_row(work, temperature, top_p, generator)
        if allowed(tok):
            return tok
        work[tok] = float("-inf")
    # The sampled candidates kept failing: walk the rest in order of likelihood.
    for tok in torch.argsort(work, descending=True).tolist():
        if work[tok] == float("-inf"):
            break
        if allowed(tok):
            return tok
    return None
