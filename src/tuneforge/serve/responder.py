"""Run one completion request on the engine and answer it, whole or as server-sent events.

Both paths log the request to the traffic log and count tokens in /metrics. A client that hangs up is noticed
in both: a stream's generator is cancelled by Starlette; a non-streaming request watches the connection for
`http.disconnect` while it waits. Either way the rows are cancelled (they leave the batch at the next decode
step) and the request is logged with status 499, nginx's "client closed request".
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid

from fastapi import Request
from fastapi.responses import Response, StreamingResponse

from tuneforge.serve.engine import QueueFull
from tuneforge.serve.errors import ApiError, error_body, overloaded
from tuneforge.serve.generation import Job
from tuneforge.serve.openai_shapes import CHAT, choice, delta, logprobs_body

CLIENT_CLOSED = 499


async def _client_gone(request: Request) -> None:
    """Return once the client disconnects (the body is already read, so the next ASGI message is the hang-up)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


async def respond(request: Request, served, body, prompts: list[list[int]], max_tokens: int, kind: str,
                  structured: bool = False, schema=None, prefix_len: int = 0, tools=None):
    app_state = request.app.state
    traffic, metrics = app_state.traffic, app_state.metrics
    started = time.perf_counter()
    request_id = ("chatcmpl-" if kind == CHAT else "cmpl-") + uuid.uuid4().hex[:24]
    top = body.n_top_logprobs
    want_logprobs = top is not None

    def log(**entry) -> None:
        if traffic is not None:
            traffic.record(request_id=request_id, endpoint=kind, model=body.model, variant=served.traffic_variant,
                           request=body.model_dump(exclude_none=True, by_alias=True), **entry)

    try:
        job = Job(served.engine, prompts, body.n, structured=structured, schema=schema, adapter=served.adapter,
                  max_tokens=max_tokens, temperature=body.temperature, top_p=body.top_p, seed=body.seed,
                  stop=body.stops, prefix_len=prefix_len, logprobs=top)
    except QueueFull as err:
        log(status=429, error=str(err))
        raise overloaded(str(err)) from None
    created = int(time.time())

    def finish(choices, status=200, error=None, response=None):
        metrics.count_tokens(served.id, job.prompt_tokens, job.completion_tokens)
        if status == CLIENT_CLOSED:
            metrics.client_closed(kind)
        log(status=status, latency_ms=round((time.perf_counter() - started) * 1000, 2),
            prompt_tokens=job.prompt_tokens, completion_tokens=job.completion_tokens,
            response=response if response is not None else [c.text for c in choices], error=error)

    def usage() -> dict:
        return {"prompt_tokens": job.prompt_tokens, "completion_tokens": job.completion_tokens,
                "total_tokens": job.prompt_tokens + job.completion_tokens}

    if not body.stream:
        waiting = asyncio.ensure_future(job.wait())
        watching = asyncio.ensure_future(_client_gone(request))
        try:
            await asyncio.wait({waiting, watching}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not waiting.done():
                job.cancel()  # the client went away (or the handler was cancelled): free the batch slots
                waiting.cancel()
            watching.cancel()
        if not waiting.done() or waiting.cancelled():
            finish(job.choices, CLIENT_CLOSED, "client disconnected before the answer was complete")
            return Response(status_code=CLIENT_CLOSED)
        choices = waiting.result()
        failed = [c.error for c in choices if c.error]
        if failed:
            finish(choices, 500, failed[0])
            raise ApiError(500, f"generation failed: {failed[0]}", "server_error")
        out = {"id": request_id, "object": kind, "created": created, "model": served.id,
               "choices": [choice(kind, c, want_logprobs) for c in choices], "usage": usage()}
        if tools is not None:  # a ToolPlan (serve/tool_calls.py): tool calls in the text become `tool_calls`
            out["choices"] = [tools.shape(ch) for ch in out["choices"]]
        finish(choices, response=out)
        return out

    chunk_kind = "chat.completion.chunk" if kind == CHAT else kind
    include_usage = bool(body.stream_options and body.stream_options.include_usage)

    def chunk(choices: list[dict], extra: dict | None = None) -> str:
        payload = {"id": request_id, "object": chunk_kind, "created": created, "model": served.id,
                   "choices": choices, **(extra or {})}
        return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"

    async def stream():
        finished = False
        offsets = [0] * len(job.choices)  # text offset of each choice, for completions' logprobs
        # A ToolPlan (serve/tool_calls.py): each choice's text goes through a tool-call parser as it streams.
        calls = None if tools is None else [tools.streamer() for _ in job.choices]
        try:
            if kind == CHAT:
                yield chunk([{"index": c.index, "delta": {"role": "assistant", "content": ""},
                              "logprobs": None, "finish_reason": None} for c in job.choices])
            async for c, event, value, entries in job.events_until_done():
                if event == "delta":
                    lp = logprobs_body(kind, entries if want_logprobs else None, offsets[c.index])
                    offsets[c.index] += len(value)
                    if calls is None:
                        yield chunk([delta(kind, c.index, value, None, lp)])
                    else:  # text and tool-call deltas; logprobs ride on the first chunk of this step
                        for d in calls[c.index].feed(value) or ([{}] if lp else []):
                            yield chunk([{"index": c.index, "delta": d, "logprobs": lp, "finish_reason": None}])
                            lp = None
                elif event == "done":
                    finish_reason = c.finish_reason
                    if calls is not None:
                        for d in calls[c.index].close():
                            yield chunk([{"index": c.index, "delta": d, "logprobs": None, "finish_reason": None}])
                        if calls[c.index].calls and finish_reason == "stop":
                            finish_reason = "tool_calls"
                    yield chunk([delta(kind, c.index, None, finish_reason)])
                else:
                    yield f"data: {json.dumps(error_body(f'generation failed: {value}', 'server_error'))}\n\n"
            if include_usage:
                yield chunk([], {"usage": usage()})
            yield "data: [DONE]\n\n"
            finished = True
            finish(job.choices)
        finally:
            if not finished:
                job.cancel()
                finish(job.choices, CLIENT_CLOSED, "client disconnected before the answer was complete")

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
