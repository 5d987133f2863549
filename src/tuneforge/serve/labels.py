"""The hook through which a classification variant answers chat completions.

A classification variant's answer is one label from a fixed set, and its logprobs are the calibrated label
probabilities, not token probabilities. To serve one, set `ServedModel.labeler` (serve/catalog.py) to an object
with

    def label_probs(self, messages: list[dict]) -> dict[str, float]:
        '''Calibrated probability of each label for this conversation (system prompt already added).'''

The server then answers with the most probable label as the message content, `finish_reason: "stop"`, and, when
the request asks for `logprobs`, one logprobs entry whose token is the label, whose logprob is log(p), and whose
`top_logprobs` are the `top_logprobs` most probable labels. `label_probs` runs in a worker thread (it may run
the model). A labeler may also define `prompt_tokens(messages) -> int`, the tokens it read, for `usage` and
/metrics (0 without it).

Sampling is honoured the way it is for tokens, over labels: a request that sets `temperature` above 0 draws
each of its `n` answers from the probabilities raised to 1/temperature and cut to the `top_p` nucleus,
reproducibly with `seed`. A request that leaves `temperature` out gets the most probable label (a classifier's
answer), whatever OpenAI's default of 1 would mean for text. `stream` sends the label as one content chunk.
`response_format` and `stop` are refused by the caller (they would be ignored).
"""

from __future__ import annotations

import math
import random
from typing import Protocol


class Labeler(Protocol):
    def label_probs(self, messages: list[dict]) -> dict[str, float]: ...


def _entry(label: str, p: float) -> dict:
    raw = label.encode("utf-8")
    return {"token": label, "logprob": math.log(p) if p > 0 else -9999.0, "bytes": list(raw)}


def sample_label(probs: dict[str, float], temperature: float, top_p: float, rng: random.Random) -> str:
    """One label drawn from `probs` sharpened (or flattened) by `temperature` and cut to the `top_p` nucleus."""
    ranked = sorted(probs.items(), key=lambda kv: kv[1], reverse=True)
    best = ranked[0][1]
    if best <= 0:
        return ranked[0][0]
    # p^(1/T), relative to the best label so a small temperature cannot overflow.
    weights = [(name, (p / best) ** (1 / temperature) if p > 0 else 0.0) for name, p in ranked]
    total = sum(w for _, w in weights)
    kept, mass = [], 0.0
    for name, w in weights:
        if kept and mass >= top_p * total:
            break
        kept.append((name, w))
        mass += w
    return rng.choices([name for name, _ in kept], weights=[w for _, w in kept])[0]


def label_answer(probs: dict[str, float], top: int | None, label: str | None = None) -> tuple[str, list[dict] | None]:
    """(label, logprobs entries or None) from the labeler's probabilities; `label` defaults to the most probable."""
    if not probs:
        raise ValueError("the labeler returned no labels")
    ranked = sorted(probs.items(), key=lambda kv: kv[1], reverse=True)
    label = ranked[0][0] if label is None else label
    if top is None:
        return label, None
    entry = _entry(label, probs[label])
    entry["top_logprobs"] = [_entry(name, q) for name, q in ranked[:top]]
    return label, [entry]
