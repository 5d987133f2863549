"""The FastAPI application: /v1/models, /v1/chat/completions and /v1/completions in OpenAI's shapes."""

from __future__ import annotations

import json
import time
import uuid

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from tuneforge.serve.catalog import ServedModel, UnknownModel
from tuneforge.serve.engine import QueueFull
from tuneforge.serve.errors import ApiError, error_body, not_found, overloaded
from tuneforge.serve.generation import Job
from tuneforge.serve.schemas import ChatCompletionRequest, CompletionRequest
from tuneforge.serve.security import BodySizeLimit, BodyTooLarge, check_api_key

DEFAULT_CHAT_MAX_TOKENS = 512


def create_app(catalog, keys=None, traffic=None, max_body_bytes: int = 1_000_000, fine_tuning=None) -> FastAPI:
    """`keys=None` serves without API keys (the CLI allows that only with --local-only on loopback).
    `fine_tuning`: a jobs.service.JobsService, to serve OpenAI's files and fine-tuning jobs API too."""
    app = FastAPI(title="tuneforge", docs_url=None, redoc_url=None, openapi_url=None)
    if fine_tuning is not None:
        from tuneforge.serve.jobs_api import mount_fine_tuning

        mount_fine_tuning(app, fine_tuning, keys)
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes,
                       path_limits=fine_tuning.body_limits() if fine_tuning is not None else None)
    app.state.catalog = catalog

    # -- errors in OpenAI's shape --------------------------------------------------------------------------------
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return JSONResponse(exc.body(), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        loc = [str(p) for p in first.get("loc", []) if p != "body"]
        param = ".".join(loc) or None
        message = f"{param}: {first.get('msg')}" if param else str(first.get("msg", "invalid request"))
        return JSONResponse(error_body(message, "invalid_request_error", None, param), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        if isinstance(exc.__cause__, BodyTooLarge):  # a chunked body that grew past the limit while parsing
            return JSONResponse(error_body(f"Request body is larger than the limit of {max_body_bytes} bytes.",
                                           "invalid_request_error", "request_too_large"), status_code=413)
        kind = "not_found_error" if exc.status_code == 404 else "invalid_request_error"
        return JSONResponse(error_body(str(exc.detail), kind), status_code=exc.status_code)

    def authorize(request: Request) -> None:
        check_api_key(request.headers.get("authorization"), keys)

    def lookup(model_id: str) -> ServedModel:
        try:
            return catalog.resolve(model_id)
        except UnknownModel as err:
            raise not_found(str(err)) from None

    def log(**entry) -> None:
        if traffic is not None:
            traffic.record(**entry)

    # -- routes --------------------------------------------------------------------------------------------------
    @app.get("/health")
    async def health():
        return {"status": "ok"}

    @app.get("/v1/models")
    async def list_models(request: Request):
        authorize(request)
        return {"object": "list", "data": [_model_card(m) for m in catalog.list()]}

    @app.get("/v1/models/{model_id:path}")
    async def get_model(model_id: str, request: Request):
        authorize(request)
        return _model_card(lookup(model_id))

    @app.post("/v1/chat/completions")
    async def chat_completions(body: ChatCompletionRequest, request: Request):
        authorize(request)
        served = lookup(body.model)
        messages = [{"role": "system" if m.role == "developer" else m.role, "content": m.text()} for m in body.messages]
        if served.system_prompt and not any(m["role"] == "system" for m in messages):
            # Prompt the variant the way it was trained, unless the client brings its own system prompt.
            messages.insert(0, {"role": "system", "content": served.system_prompt})
        from tuneforge.chat_encoding import encode_prompt

        encode = getattr(served.engine, "encode_messages", None)  # a classification variant reads the user text
        prompt = encode(messages) if encode else encode_prompt(served.engine.tokenizer, messages)
        max_tokens = _token_budget(served, [prompt], body.token_limit or DEFAULT_CHAT_MAX_TOKENS,
                                   explicit=body.token_limit is not None)
        return await _respond(request, served, body, [prompt], max_tokens, "chat.completion", body.json_mode,
                              _system_prefix_len(served.engine.tokenizer, messages, prompt))

    @app.post("/v1/completions")
    async def completions(body: CompletionRequest, request: Request):
        authorize(request)
        served = lookup(body.model)
        if body.echo:
            raise ApiError(400, "echo is not supported", param="echo")
        tok = served.engine.tokenizer
        prompts = [tok(p, add_special_tokens=False)["input_ids"] for p in body.prompts]
        if any(not p for p in prompts):
            raise ApiError(400, "prompt must not be empty", param="prompt")
        max_tokens = _token_budget(served, prompts, body.max_tokens, explicit=True)
        return await _respond(request, served, body, prompts, max_tokens, "text_completion", False)

    async def _respond(request, served, body, prompts, max_tokens, kind, json_mode, prefix_len=0):
        started = time.perf_counter()
        request_id = ("chatcmpl-" if kind == "chat.completion" else "cmpl-") + uuid.uuid4().hex[:24]
        try:
            job = Job(served.engine, prompts, body.n, adapter=served.adapter, max_tokens=max_tokens,
                      temperature=body.temperature, top_p=body.top_p, seed=body.seed, stop=body.stops,
                      json_mode=json_mode, prefix_len=prefix_len)
        except QueueFull as err:
            log(request_id=request_id, endpoint=kind, model=body.model, variant=served.id, status=429,
                request=body.model_dump(exclude_none=True), error=str(err))
            raise overloaded(str(err)) from None
        created = int(time.time())

        def finish_log(choices, status=200, error=None, response=None):
            log(request_id=request_id, endpoint=kind, model=body.model, variant=served.id, status=status,
                latency_ms=round((time.perf_counter() - started) * 1000, 2), prompt_tokens=job.prompt_tokens,
                completion_tokens=job.completion_tokens, request=body.model_dump(exclude_none=True),
                response=response if response is not None else [c.text for c in choices], error=error)

        usage = lambda: {"prompt_tokens": job.prompt_tokens, "completion_tokens": job.completion_tokens,  # noqa: E731
                         "total_tokens": job.prompt_tokens + job.completion_tokens}

        if not body.stream:
            try:
                choices = await job.wait()
            except BaseException:
                job.cancel()  # the client went away: free the batch slots
                raise
            failed = [c.error for c in choices if c.error]
            if failed:
                finish_log(choices, 500, failed[0])
                raise ApiError(500, f"generation failed: {failed[0]}", "server_error")
            out = {"id": request_id, "object": kind, "created": created, "model": served.id,
                   "choices": [_choice(kind, c) for c in choices], "usage": usage()}
            finish_log(choices, response=out)
            return out

        chunk_kind = "chat.completion.chunk" if kind == "chat.completion" else "text_completion"
        include_usage = bool(body.stream_options and body.stream_options.include_usage)

        def chunk(choices: list[dict], extra: dict | None = None) -> str:
            payload = {"id": request_id, "object": chunk_kind, "created": created, "model": served.id,
                       "choices": choices, **(extra or {})}
            return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"

        async def stream():
            finished = False
            try:
                if kind == "chat.completion":
                    yield chunk([{"index": c.index, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
                                 for c in job.choices])
                async for choice, event, value in job.events_until_done():
                    if event == "delta":
                        yield chunk([_delta(kind, choice.index, value, None)])
                    elif event == "done":
                        yield chunk([_delta(kind, choice.index, None, choice.finish_reason)])
                    else:
                        err = error_body(f"generation failed: {value}", "server_error")
                        yield f"data: {json.dumps(err)}\n\n"
                if include_usage:
                    yield chunk([], {"usage": usage()})
                yield "data: [DONE]\n\n"
                finished = True
                finish_log(job.choices)
            finally:
                if not finished:
                    job.cancel()
                    finish_log(job.choices, 499, "client disconnected before the answer was complete")

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    return app


def _system_prefix_len(tokenizer, messages: list[dict], prompt: list[int]) -> int:
    """Tokens of the rendered system message at the start of the prompt: shared by the variant's requests, so the
    engine keeps their cache between batches. 0 when there is no system message or the template merges it."""
    from tuneforge.chat_encoding import render

    if not messages or messages[0]["role"] != "system":
        return 0
    ids = tokenizer(render(tokenizer, messages[:1], add_generation_prompt=False), add_special_tokens=False)["input_ids"]
    return len(ids) if prompt[: len(ids)] == ids else 0


def _token_budget(served: ServedModel, prompts: list[list[int]], wanted: int, explicit: bool) -> int:
    """Cap the answer so prompt + answer fit the model's context; an explicit request that cannot fit is an error."""
    context = getattr(served.engine.model.config, "max_position_embeddings", None) or 2048
    longest = max(len(p) for p in prompts)
    room = context - longest
    if room < 1 or (explicit and wanted > room):
        raise ApiError(400, f"This model's maximum context length is {context} tokens; the prompt has {longest} "
                            f"and max_tokens asks for {wanted}.", param="max_tokens", code="context_length_exceeded")
    return min(wanted, room)


def _model_card(m: ServedModel) -> dict:
    return {"id": m.id, "object": "model", "created": m.created, "owned_by": "tuneforge",
            "tuneforge": {"kind": m.kind, "base": m.base_id, "run_path": m.run_path}}


def _choice(kind: str, c) -> dict:
    if kind == "chat.completion":
        return {"index": c.index, "message": {"role": "assistant", "content": c.text}, "logprobs": None,
                "finish_reason": c.finish_reason}
    return {"index": c.index, "text": c.text, "logprobs": None, "finish_reason": c.finish_reason}


def _delta(kind: str, index: int, text: str | None, finish_reason: str | None) -> dict:
    if kind == "chat.completion":
        return {"index": index, "delta": {} if text is None else {"content": text}, "logprobs": None,
                "finish_reason": finish_reason}
    return {"index": index, "text": text or "", "logprobs": None, "finish_reason": finish_reason}
