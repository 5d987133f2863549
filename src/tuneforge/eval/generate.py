"""Batched greedy generation from chat prompts, with per-example latency and token counts."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from tuneforge.chat_encoding import encode_prompt
from tuneforge.models.load import stop_token_ids


@dataclass
class Generation:
    text: str
    latency_s: float  # the batch's wall time shared equally by its examples
    tokens_in: int
    tokens_out: int
    ids: list[int] = field(default_factory=list)  # the answer's token ids, with the stop token that ended it
    confidence: float | None = None  # the probability the system gave its answer, when it gives one (classifiers)


def left_padded(rows: list[list[int]], pad_id: int):
    """A (batch, width) id tensor and its attention mask; left padding keeps every row's end in one column."""
    import torch

    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for row, r in enumerate(rows):
        ids[row, width - len(r) :] = torch.tensor(r, dtype=torch.long)
        mask[row, width - len(r) :] = 1
    return ids, mask


def generate_ids(
    model, tokenizer, encoded: list[list[int]], max_new_tokens: int, batch_size: int = 16,
    stop_strings: list[str] | None = None,
) -> list[Generation]:
    """Greedy continuations of token-id prompts; `stop_strings` also end a row (its text still holds them)."""
    import torch

    stops = stop_token_ids(tokenizer, model)
    pad_id = tokenizer.pad_token_id
    device = next(model.parameters()).device
    # Similar lengths together: less padding.
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
    results: list[Generation | None] = [None] * len(encoded)
    extra = {"stop_strings": stop_strings, "tokenizer": tokenizer} if stop_strings else {}
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        for s in range(0, len(order), batch_size):
            idx = order[s : s + batch_size]
            ids, mask = left_padded([encoded[i] for i in idx], pad_id)
            width = ids.shape[1]
            t0 = time.perf_counter()
            out = model.generate(
                input_ids=ids.to(device),
                attention_mask=mask.to(device),
                max_new_tokens=max_new_tokens,
                do_sample=False,
                eos_token_id=stops,
                pad_token_id=pad_id,
                **extra,
            )
            dt = (time.perf_counter() - t0) / len(idx)
            for row, i in enumerate(idx):
                new = out[row, width:].tolist()
                cut = next((k for k, t in enumerate(new) if t in stops), len(new))
                text = tokenizer.decode(new[:cut], skip_special_tokens=True)
                results[i] = Generation(text, dt, len(encoded[i]), min(cut + 1, len(new)), new[: cut + 1])
    if was_training:
        model.train()
    return results  # type: ignore[return-value]


def generate_batch(model, tokenizer, prompts: list[list[dict]], max_new_tokens: int, batch_size: int = 16) -> list[Generation]:
    encoded = [encode_prompt(tokenizer, p) for p in prompts]
    gens = generate_ids(model, tokenizer, encoded, max_new_tokens, batch_size)
    for g in gens:
        g.text = g.text.strip()
    return gens
