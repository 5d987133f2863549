"""Response bodies in OpenAI's shapes: model cards, choices, stream deltas and the two logprobs layouts.

Chat completions report logprobs as {"content": [{"token", "logprob", "bytes", "top_logprobs": [...]}]};
legacy completions as parallel lists {"tokens", "token_logprobs", "top_logprobs": [{token: logprob}],
"text_offset"}. The engine produces the chat layout per token; `completion_logprobs` converts it.
"""

from __future__ import annotations

CHAT = "chat.completion"
TEXT = "text_completion"


def model_card(m) -> dict:
    return {"id": m.id, "object": "model", "created": m.created, "owned_by": "tuneforge",
            "tuneforge": {"kind": m.kind, "base": m.base_id, "run_path": m.run_path}}


def completion_logprobs(entries: list[dict], offset: int = 0) -> dict:
    offsets = []
    for e in entries:
        offsets.append(offset)
        offset += len(e["token"])
    return {"tokens": [e["token"] for e in entries], "token_logprobs": [e["logprob"] for e in entries],
            "top_logprobs": [{t["token"]: t["logprob"] for t in e["top_logprobs"]} for e in entries],
            "text_offset": offsets}


def logprobs_body(kind: str, entries: list[dict] | None, offset: int = 0) -> dict | None:
    """None when the request did not ask for logprobs (`entries` is None)."""
    if entries is None:
        return None
    if kind == CHAT:
        return {"content": entries, "refusal": None}
    return completion_logprobs(entries, offset)


def choice(kind: str, c, want_logprobs: bool) -> dict:
    logprobs = logprobs_body(kind, c.logprobs if want_logprobs else None)
    if kind == CHAT:
        return {"index": c.index, "message": {"role": "assistant", "content": c.text, "refusal": None},
                "logprobs": logprobs, "finish_reason": c.finish_reason}
    return {"index": c.index, "text": c.text, "logprobs": logprobs, "finish_reason": c.finish_reason}


def delta(kind: str, index: int, text: str | None, finish_reason: str | None, logprobs: dict | None = None) -> dict:
    if kind == CHAT:
        return {"index": index, "delta": {} if text is None else {"content": text}, "logprobs": logprobs,
                "finish_reason": finish_reason}
    return {"index": index, "text": text or "", "logprobs": logprobs, "finish_reason": finish_reason}
