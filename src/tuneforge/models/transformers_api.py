"""The current spelling of two library APIs, chosen once for the installed versions.

- transformers renamed the KV-cache argument and output field from `past_key_values` to `cache` (the old name
  warns, and its removal is announced for 5.40). Our allowed range (pyproject.toml) spans both spellings, so the
  name is read once from the installed model code: new versions get `cache` with no warning, older ones keep
  `past_key_values`.
- peft (up to 0.21 at least) asks every model it wraps for the deprecated `is_gradient_checkpointing`, which
  warns in transformers 5. That is peft's call, not ours: `peft_wrapping()` silences exactly that warning
  around our calls into peft and nothing else.
"""

from __future__ import annotations

import functools
import inspect
import warnings
from contextlib import contextmanager


@functools.cache
def cache_arg() -> str:
    from transformers.models.llama.modeling_llama import LlamaModel

    return "cache" if "cache" in inspect.signature(LlamaModel.forward).parameters else "past_key_values"


def with_cache(cache) -> dict:
    """Keyword arguments that hand `cache` to a model's forward."""
    return {cache_arg(): cache}


def cache_of(output):
    """The KV cache a forward returned."""
    return getattr(output, cache_arg())


@contextmanager
def peft_wrapping():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        yield
