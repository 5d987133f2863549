"""The hook through which a classification variant answers chat completions.

A classification variant's answer is one label from a fixed set, and its logprobs are the calibrated label
probabilities, not token probabilities. To serve one, set `ServedModel.labeler` (serve/catalog.py) to an object
with

    def label_probs(self, messages: list[dict]) -> dict[str, float]:
        '''Calibrated probability of each label for this conversation (system prompt already added).'''

The server then answers with the most probable label as the message content, `finish_reason: "stop"`, and, when
the request asks for `logprobs`, one logprobs entry whose token is the label, whose logprob is log(p), and whose
`top_logprobs` are the `top_logprobs` most probable labels. `label_probs` runs in a worker thread (it may run
the model). Sampling parameters do not apply to a label answer and are accepted; `n` copies the answer,
`response_format` and `stop` are refused by the caller (they would be ignored).
"""

from __future__ import annotations

import math
from typing import Protocol


class Labeler(Protocol):
    def label_probs(self, messages: list[dict]) -> dict[str, float]: ...


def _entry(label: str, p: float) -> dict:
    raw = label.encode("utf-8")
    return {"token": label, "logprob": math.log(p) if p > 0 else -9999.0, "bytes": list(raw)}


def label_answer(probs: dict[str, float], top: int | None) -> tuple[str, list[dict] | None]:
    """(label, logprobs entries or None) from the labeler's probabilities."""
    if not probs:
        raise ValueError("the labeler returned no labels")
    ranked = sorted(probs.items(), key=lambda kv: kv[1], reverse=True)
    label, p = ranked[0]
    if top is None:
        return label, None
    entry = _entry(label, p)
    entry["top_logprobs"] = [_entry(name, q) for name, q in ranked[:top]]
    return label, [entry]
