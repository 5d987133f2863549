"""The current spelling of two library APIs, chosen once for the installed versions.

- transformers renamed the KV-cache argument and output field from `past_key_values` to `cache` (the old name
  warns, and its removal is announced for 5.40). Our allowed range (pyproject.toml) spans both spellings, so the
  name is read once from the installed model code: new versions get `cache` with no warning, older ones keep
  `past_key_values`.
- peft (up to 0.21 at least) asks every model it wraps for the deprecated `is_gradient_checkpointing`, which
  warns in transformers 5. That is peft's call, not ours: `peft_wrapping()` silences exactly that warning
  around our calls into peft and nothing else.
- transformers draws a progress bar on every `from_pretrained` ("Loading weights") and `save_pretrained`
  ("Writing model shards"), several per command, which buried the demo's own output. Our loads read local
  folders and take a second, so `loading_quietly()` turns transformers' bars off for the rest of the process
  once tuneforge loads a model (every save follows a load). The hub's download bars stay: a first download of
  a real base takes minutes. With `expected_warnings=True` it also hides the load report around that one load,
  where its message is expected, e.g. a fresh classification head's "newly initialized" weights.
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


def hide_transformers_bars() -> None:
    """transformers' own progress bars off for the rest of the process, the hub's download bars kept."""
    from huggingface_hub.utils import are_progress_bars_disabled, enable_progress_bars
    from transformers.utils import logging as hf_logging

    if not hf_logging.is_progress_bar_enabled():
        return
    hub_bars = not are_progress_bars_disabled()
    hf_logging.disable_progress_bar()  # which turns the hub's bars off too
    if hub_bars:
        enable_progress_bars()


@contextmanager
def loading_quietly(expected_warnings: bool = False):
    hide_transformers_bars()
    if not expected_warnings:
        yield
        return
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
