"""Batched greedy generation from chat prompts, with per-example latency and token counts."""

from __future__ import annotations

import time
from dataclasses import dataclass

from tuneforge.models.load import stop_token_ids
from tuneforge.train.encode import encode_prompt


@dataclass
class Generation:
    text: str
    latency_s: float  # the batch's wall time shared equally by its examples
    tokens_in: int
    tokens_out: int


def generate_batch(model, tokenizer, prompts: list[list[dict]], max_new_tokens: int, batch_size: int = 16) -> list[Generation]:
    import torch

    stops = stop_token_ids(tokenizer, model)
    pad_id = tokenizer.pad_token_id
    device = next(model.parameters()).device
    encoded = [encode_prompt(tokenizer, p) for p in prompts]
    # Similar lengths together: less padding, and left padding keeps every prompt's end at the same column.
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
    results: list[Generation | None] = [None] * len(encoded)
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        for s in range(0, len(order), batch_size):
            idx = order[s : s + batch_size]
            width = max(len(encoded[i]) for i in idx)
            ids = torch.full((len(idx), width), pad_id, dtype=torch.long)
            mask = torch.zeros((len(idx), width), dtype=torch.long)
            for row, i in enumerate(idx):
                n = len(encoded[i])
                ids[row, width - n :] = torch.tensor(encoded[i])
                mask[row, width - n :] = 1
            t0 = time.perf_counter()
            out = model.generate(
                input_ids=ids.to(device),
                attention_mask=mask.to(device),
                max_new_tokens=max_new_tokens,
                do_sample=False,
                eos_token_id=stops,
                pad_token_id=pad_id,
            )
            dt = (time.perf_counter() - t0) / len(idx)
            for row, i in enumerate(idx):
                new = out[row, width:].tolist()
                cut = next((k for k, t in enumerate(new) if t in stops), len(new))
                text = tokenizer.decode(new[:cut], skip_special_tokens=True)
                results[i] = Generation(text.strip(), dt, len(encoded[i]), min(cut + 1, len(new)))
    if was_training:
        model.train()
    return results  # type: ignore[return-value]
