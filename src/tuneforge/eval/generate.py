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


class _GrammarMask:
    """A logits processor for `model.generate`: each row may pick only what its grammar allows next.

    The same per-row constraint as the server's engine (models/structured.py), stepped the same way: the token
    chosen last step advances the row's matcher, a stop token ends the row, and a row whose grammar allows
    nothing more may only stop.
    """

    def __init__(self, constraints: list, stops: list[int], prompt_width: int):
        self.constraints = constraints
        self.stops = list(stops)
        self.prompt_width = prompt_width
        self.ended = [False] * len(constraints)

    def __call__(self, input_ids, scores):
        if input_ids.shape[1] > self.prompt_width:
            for row, constraint in enumerate(self.constraints):
                token = int(input_ids[row, -1])
                if self.ended[row] or token in self.stops:
                    self.ended[row] = True  # generate fills an ended row with padding from here on
                else:
                    constraint.advance(token)
        for row, constraint in enumerate(self.constraints):
            if self.ended[row]:
                continue
            allowed = constraint.allowed(scores.shape[-1]).to(scores.device)
            if not bool(allowed.any()):
                allowed[self.stops] = True
            scores[row] = scores[row].masked_fill(~allowed, float("-inf"))
        return scores


def generate_ids(
    model, tokenizer, encoded: list[list[int]], max_new_tokens: int, batch_size: int = 16,
    constraints: list | None = None,
) -> list[Generation]:
    """Greedy continuations of token-id prompts; `constraints` (one RowConstraint per prompt) keep each row
    within its grammar."""
    import torch
    from transformers import LogitsProcessorList

    stops = stop_token_ids(tokenizer, model)
    pad_id = tokenizer.pad_token_id
    device = next(model.parameters()).device
    # Similar lengths together: less padding.
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
    results: list[Generation | None] = [None] * len(encoded)
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        for s in range(0, len(order), batch_size):
            idx = order[s : s + batch_size]
            ids, mask = left_padded([encoded[i] for i in idx], pad_id)
            width = ids.shape[1]
            extra = {}
            if constraints is not None:
                mask_rows = _GrammarMask([constraints[i] for i in idx], stops, width)
                extra["logits_processor"] = LogitsProcessorList([mask_rows])
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
