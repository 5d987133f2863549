"""What a variant was trained to do without being told: its system prompt and greedy decoding, written into the
formats other runtimes read (the chat template, `generation_config.json`), so a plain transformers or llama.cpp
user gets the trained behaviour with no extra prompt.

The system prompt goes in front of the tokenizer's own template as a default: a conversation without a system
message is rendered as if it started with the trained one; a conversation with its own system message is left
alone. The rest of the template is unchanged, so the rendered text is the text the variant was trained on.
"""

from __future__ import annotations

import json

# tuneforge evaluates and serves variants greedily; an answer longer than this is not a trained answer.
DEFAULT_MAX_NEW_TOKENS = 128


def _jinja_string(text: str) -> str:
    # Jinja string literals take Python-style escapes; JSON's escaping is a subset, and non-ASCII stays literal.
    return json.dumps(text, ensure_ascii=False)


def template_with_system_prompt(chat_template: str, system_prompt: str | None) -> str:
    """The chat template, defaulting the system message to the one the variant was trained with."""
    if not system_prompt:
        return chat_template
    default = "{%- if not messages or messages[0]['role'] != 'system' -%}" \
              "{%- set messages = [{'role': 'system', 'content': " + _jinja_string(system_prompt) + "}] + messages -%}" \
              "{%- endif -%}"
    return default + chat_template


def generation_settings(tokenizer, stop_ids: list[int], max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS) -> dict:
    """generation_config.json fields for the decoding tuneforge evaluates with: greedy, ending at end of turn."""
    return {
        "do_sample": False,
        "max_new_tokens": max_new_tokens,
        "eos_token_id": stop_ids if len(stop_ids) > 1 else stop_ids[0],
        "pad_token_id": tokenizer.pad_token_id if tokenizer.pad_token_id is not None else stop_ids[0],
        "bos_token_id": tokenizer.bos_token_id,
    }


def apply_trained_behaviour(model, tokenizer, system_prompt: str | None) -> None:
    """Change the merged model and its tokenizer in place before saving them."""
    from tuneforge.models.load import stop_token_ids

    if tokenizer.chat_template:
        tokenizer.chat_template = template_with_system_prompt(tokenizer.chat_template, system_prompt)
    settings = generation_settings(tokenizer, stop_token_ids(tokenizer, model))
    gen = model.generation_config
    # Sampling knobs a base may carry (temperature, top_p) would only warn next to do_sample=False.
    for knob in ("temperature", "top_p", "top_k", "min_p", "typical_p"):
        if hasattr(gen, knob):
            setattr(gen, knob, None)
    for key, value in settings.items():
        setattr(gen, key, value)
