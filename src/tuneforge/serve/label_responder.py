"""A classification variant's chat answer, whole or streamed: its label(s) through the labeler hook
(serve/labels.py), in OpenAI's chat shapes, logged to the traffic log with the label probabilities."""

from __future__ import annotations

import json
import random
import time
import uuid

from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from tuneforge.serve.errors import ApiError
from tuneforge.serve.labels import label_answer, sample_label
from tuneforge.serve.openai_shapes import CHAT


def _labels(body, probs: dict[str, float]) -> list[str]:
    """One label per choice: the most probable, or drawn when the request sets a temperature above 0."""
    if "temperature" not in body.model_fields_set or body.temperature <= 0:
        best = max(probs, key=probs.__getitem__)
        return [best] * body.n
    return [sample_label(probs, body.temperature, body.top_p,
                         random.Random(None if body.seed is None else body.seed + k)) for k in range(body.n)]


async def label_completion(served, body, messages, traffic=None, metrics=None):
    for param in ("response_format", "stop"):
        if getattr(body, param) and not (param == "response_format" and not body.structured):
            raise ApiError(400, f"{param} is not supported by the classifier `{served.id}`", param=param,
                           code="unsupported_parameter")
    probs = await run_in_threadpool(served.labeler.label_probs, messages)
    answers = [label_answer(probs, body.n_top_logprobs, label) for label in _labels(body, probs)]
    counter = getattr(served.labeler, "prompt_tokens", None)
    prompt_tokens = await run_in_threadpool(counter, messages) if counter is not None else 0
    if metrics is not None:  # each label counts as one completion token, as in its logprobs
        metrics.count_tokens(served.id, prompt_tokens, body.n)
    out = {"id": "chatcmpl-" + uuid.uuid4().hex[:24], "object": CHAT, "created": int(time.time()),
           "model": served.id, "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": body.n,
                                         "total_tokens": prompt_tokens + body.n},
           "choices": [{"index": i, "message": {"role": "assistant", "content": label, "refusal": None},
                        "logprobs": None if entries is None else {"content": entries, "refusal": None},
                        "finish_reason": "stop"} for i, (label, entries) in enumerate(answers)]}
    if traffic is not None:  # with the label probabilities, which the monitor's accuracy estimate reads
        label = answers[0][0]
        traffic.record(request_id=out["id"], endpoint=CHAT, model=body.model, variant=served.traffic_variant,
                       status=200,
                       request=body.model_dump(exclude_none=True, by_alias=True), response=out,
                       label_probs=probs, confidence=probs.get(label))
    return _streamed(out, body) if body.stream else out


def _streamed(out: dict, body) -> StreamingResponse:
    """The whole answer as chunks: the role, each label as one content delta (with its logprobs), the finish."""
    def chunk(choices: list[dict], extra: dict | None = None) -> str:
        payload = {"id": out["id"], "object": "chat.completion.chunk", "created": out["created"],
                   "model": out["model"], "choices": choices, **(extra or {})}
        return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"

    def events():
        for c in out["choices"]:
            yield chunk([{"index": c["index"], "delta": {"role": "assistant", "content": ""}, "logprobs": None,
                          "finish_reason": None}])
            yield chunk([{"index": c["index"], "delta": {"content": c["message"]["content"]},
                          "logprobs": c["logprobs"], "finish_reason": None}])
            yield chunk([{"index": c["index"], "delta": {}, "logprobs": None, "finish_reason": "stop"}])
        if body.stream_options and body.stream_options.include_usage:
            yield chunk([], {"usage": out["usage"]})
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
