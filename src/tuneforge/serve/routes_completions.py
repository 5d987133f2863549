"""POST /v1/chat/completions and /v1/completions: validate, build the prompt, hand over to the responder."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from tuneforge.models.structured import LarkGrammar, SchemaError
from tuneforge.serve.answer_format import default_answer_format
from tuneforge.serve.errors import ApiError
from tuneforge.serve.label_responder import label_completion
from tuneforge.serve.openai_shapes import CHAT, TEXT
from tuneforge.serve.prompting import (
    DEFAULT_CHAT_MAX_TOKENS, DEFAULT_COMPLETION_MAX_TOKENS, chat_messages, refuse_unsupported, system_prefix_len,
    token_budget,
)
from tuneforge.serve.responder import respond
from tuneforge.serve.routes_models import lookup
from tuneforge.serve.schemas import ChatCompletionRequest, CompletionRequest
from tuneforge.serve.security import authorize
from tuneforge.serve.tool_calls import plan_tools

router = APIRouter(dependencies=[Depends(authorize)])


@router.post("/v1/chat/completions")
async def chat_completions(body: ChatCompletionRequest, request: Request):
    served = lookup(request, body.model)
    refuse_unsupported(body, served)
    messages = chat_messages(body, served)
    if served.labeler is not None:
        return await label_completion(served, body, messages, request.app.state.traffic, request.app.state.metrics)
    from tuneforge.chat_encoding import encode_prompt

    tokenizer = served.engine.tokenizer
    tools = plan_tools(body, served, messages)
    prompt = encode_prompt(tokenizer, messages, tools=tools.specs if tools else None)
    schema = body.json_schema if tools is None or tools.grammar is None else LarkGrammar(tools.grammar)
    learned = default_answer_format(body, served, tools) if schema is None and not body.structured else None
    schema = learned.grammar if learned is not None else schema  # an extraction variant answers its learned keys
    # The learned format bounds every value; without a max_tokens the answer gets the budget that `eval` gave it
    # (models/answer_grammar.py), so it ends as valid JSON where the evaluated answer ended.
    default_limit = learned.max_tokens if learned is not None else DEFAULT_CHAT_MAX_TOKENS
    max_tokens = token_budget(served, [prompt], body.token_limit or default_limit,
                              explicit=body.token_limit is not None)
    structured = body.structured or schema is not None
    await _vocabulary_index_ready(served, body)
    if structured:
        try:  # compiled before queueing, so a bad schema is a 400 (first use also builds the vocabulary index)
            await run_in_threadpool(served.engine.grammars.compile, schema)
        except SchemaError as err:
            param = ("model" if learned is not None  # the variant's learned keys (serve/answer_format.py)
                     else "tools" if isinstance(schema, LarkGrammar)  # a function's parameters schema
                     else "response_format.json_schema.schema" if schema is not None else "response_format")
            raise ApiError(400, f"{param}: {err}", param=param, code="invalid_schema") from None
    return await respond(request, served, body, [prompt], max_tokens, CHAT, structured=structured,
                         schema=schema, prefix_len=system_prefix_len(tokenizer, messages, prompt), tools=tools)


@router.post("/v1/completions")
async def completions(body: CompletionRequest, request: Request):
    served = lookup(request, body.model)
    refuse_unsupported(body, served)
    if served.labeler is not None:
        raise ApiError(400, f"The model `{served.id}` is a classifier; use /v1/chat/completions", param="model")
    tok = served.engine.tokenizer
    prompts = [tok(p, add_special_tokens=False)["input_ids"] for p in body.prompts]
    if any(not p for p in prompts):
        raise ApiError(400, "prompt must not be empty", param="prompt")
    max_tokens = token_budget(served, prompts, body.max_tokens or DEFAULT_COMPLETION_MAX_TOKENS,
                              explicit=body.max_tokens is not None)
    await _vocabulary_index_ready(served, body)
    return await respond(request, served, body, prompts, max_tokens, TEXT)


async def _vocabulary_index_ready(served, body) -> None:
    """Logprobs report token bytes from llguidance's vocabulary index; its first build (about a second for a
    49k vocabulary) runs here, off the event loop and the engine's decode thread."""
    if body.n_top_logprobs is not None:
        await run_in_threadpool(lambda: served.engine.grammars.ll_tokenizer)
