"""Load tokenizer and model from a resolved folder, safetensors only."""

from __future__ import annotations

import json
from pathlib import Path

from tuneforge.errors import UserError

# The precision tuneforge runs models in for predict and eval: exports that must answer as the variant did in
# evaluation are written in it (export/merge.py).
INFERENCE_DTYPE = "float32"


def load_tokenizer(path: str | Path, trust_remote_code: bool = False):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(path), trust_remote_code=trust_remote_code)
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    if not tok.chat_template:
        raise UserError(f"{path}: tokenizer has no chat template; tuneforge trains and serves with the model's own")
    return tok


def load_model(path: str | Path, dtype: str = INFERENCE_DTYPE, trust_remote_code: bool = False):
    import torch
    from transformers import AutoModelForCausalLM

    from tuneforge.models.transformers_api import loading_quietly

    with loading_quietly():
        model = AutoModelForCausalLM.from_pretrained(
            str(path), dtype=getattr(torch, dtype), use_safetensors=True, trust_remote_code=trust_remote_code
        )
    return model


def stop_token_ids(tokenizer, model=None) -> list[int]:
    """Every id that ends an answer: the tokenizer's EOS and the generation config's (chat models differ)."""
    ids: set[int] = set()
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    gen = getattr(model, "generation_config", None) if model is not None else None
    eos = getattr(gen, "eos_token_id", None)
    if isinstance(eos, int):
        ids.add(eos)
    elif isinstance(eos, (list, tuple)):
        ids.update(int(i) for i in eos)
    return sorted(ids)


def model_context(base_path) -> int | None:
    """The base model's context length from its config.json, without loading weights."""
    cfg = Path(base_path) / "config.json"
    try:
        return int(json.loads(cfg.read_text(encoding="utf-8")).get("max_position_embeddings") or 0) or None
    except (OSError, ValueError):
        return None


def load_length_tokenizer(base: str, max_seq_len: int):
    """(tokenizer, token limit, model folder, note): the limit is the smaller of --max-seq-len and the context."""
    from tuneforge.models.resolve import resolve_base

    resolved = resolve_base(base)
    tokenizer = load_tokenizer(resolved.path)
    context = model_context(resolved.path)
    limit = min(max_seq_len, context) if context else max_seq_len
    note = f"token lengths measured with {base}'s tokenizer and chat template; limit {limit}"
    if context and context < max_seq_len:
        note += f" (the model's context; --max-seq-len {max_seq_len} is larger)"
    return tokenizer, limit, resolved.path, note


def length_tokenizer_or_note(base: str, max_seq_len: int):
    """load_length_tokenizer, or (None, None, None, why not) when the model cannot be had: a data report then
    goes on without token counts instead of failing ('none' skips them on purpose)."""
    if base.lower() == "none":
        return None, None, None, "token lengths not checked (--base none)"
    from tuneforge.models.resolve import ModelNotFound

    try:
        return load_length_tokenizer(base, max_seq_len)
    except (ModelNotFound, OSError, ValueError) as err:
        return None, None, None, f"token lengths not checked: {str(err).splitlines()[0]}"
