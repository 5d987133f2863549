"""Any OpenAI-compatible chat endpoint as a system to compare (a hosted model the user pays for today, or a
tuneforge-served variant), with latency, token counts from the server's usage report, and cost."""

from __future__ import annotations

import os
import time

from tuneforge.errors import UserError
from tuneforge.eval.generate import Generation


def make_client(url: str, api_key_env: str | None):
    from openai import OpenAI

    # Local servers need no key, but the client insists on one.
    key = (os.environ.get(api_key_env) if api_key_env else None) or "not-needed"
    return OpenAI(base_url=url, api_key=key, max_retries=2, timeout=120)


def chat(client, model: str, messages: list[dict], max_tokens: int, temperature: float = 0.0) -> Generation:
    import openai

    t0 = time.perf_counter()
    try:
        resp = client.chat.completions.create(
            model=model, messages=messages, max_tokens=max_tokens, temperature=temperature
        )
    except openai.OpenAIError as err:
        # A user error (wrong URL, key or model name), reported as such rather than as a traceback.
        raise UserError(f"endpoint {client.base_url} (model {model!r}): {err}") from None
    dt = time.perf_counter() - t0
    text = (resp.choices[0].message.content or "").strip()
    usage = resp.usage
    tokens_in = usage.prompt_tokens if usage else 0
    tokens_out = usage.completion_tokens if usage else 0
    return Generation(text, dt, tokens_in, tokens_out)


def generate_remote(client, model: str, prompts: list[list[dict]], max_tokens: int) -> list[Generation]:
    return [chat(client, model, p, max_tokens) for p in prompts]


def cost_per_1k_requests(mean_tokens_in: float, mean_tokens_out: float, price_in: float, price_out: float) -> float:
    """Prices are per million tokens, as providers quote them."""
    return 1000 * (mean_tokens_in * price_in + mean_tokens_out * price_out) / 1e6
