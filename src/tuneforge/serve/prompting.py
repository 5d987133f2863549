"""From a request body to prompt token ids: the chat template, the variant's system prompt, the token budget,
and the refusal of request parts we cannot honour (each a 400 naming the parameter, never silently ignored)."""

from __future__ import annotations

from tuneforge.serve.errors import ApiError
from tuneforge.serve.tool_calls import refuse_unsupported_tools, tool_messages

DEFAULT_CHAT_MAX_TOKENS = 512
DEFAULT_COMPLETION_MAX_TOKENS = 16  # OpenAI's default for /v1/completions


def refuse_unsupported(body, served) -> None:
    """400 for the first parameter we would otherwise ignore."""
    for param, reason in body.unsupported().items():
        raise ApiError(400, reason, param=param, code="unsupported_parameter")
    for i, m in enumerate(getattr(body, "messages", [])):
        if m.name:
            raise ApiError(400, f"messages.{i}.name is not supported by this server (the chat template has no "
                                "participant names)", param=f"messages.{i}.name", code="unsupported_parameter")
    refuse_unsupported_tools(body, served)


def chat_messages(body, served) -> list[dict]:
    messages = [{"role": "system" if m.role == "developer" else m.role, "content": m.text()} for m in body.messages]
    if served.system_prompt and not any(m["role"] == "system" for m in messages):
        # Prompt the variant the way it was trained, unless the client brings its own system prompt.
        messages.insert(0, {"role": "system", "content": served.system_prompt})
    return tool_messages(body, messages)


def system_prefix_len(tokenizer, messages: list[dict], prompt: list[int]) -> int:
    """Tokens of the rendered system message at the start of the prompt: shared by the variant's requests, so the
    engine keeps their cache between batches. 0 when there is no system message or the template merges it."""
    from tuneforge.chat_encoding import render

    if not messages or messages[0]["role"] != "system":
        return 0
    ids = tokenizer(render(tokenizer, messages[:1], add_generation_prompt=False), add_special_tokens=False)["input_ids"]
    return len(ids) if prompt[: len(ids)] == ids else 0


def token_budget(served, prompts: list[list[int]], wanted: int, explicit: bool) -> int:
    """Cap the answer so prompt + answer fit the model's context; an explicit request that cannot fit is an error."""
    context = getattr(served.engine.model.config, "max_position_embeddings", None) or 2048
    longest = max(len(p) for p in prompts)
    room = context - longest
    if room < 1 or (explicit and wanted > room):
        raise ApiError(400, f"This model's maximum context length is {context} tokens; the prompt has {longest} "
                            f"and max_tokens asks for {wanted}.", param="max_tokens", code="context_length_exceeded")
    return min(wanted, room)
