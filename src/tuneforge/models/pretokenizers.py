"""Byte-level BPE pre-tokenizers under both of their names: llama.cpp's `tokenizer.ggml.pre` and the
`pre_tokenizer` block of a Hugging Face `tokenizer.json`.

The two runtimes must split text the same way before BPE, or the same string becomes different token ids.
A GGUF names the split by a short id that llama.cpp maps to its regexes (llama-vocab.cpp); transformers keeps the
split as a pre-tokenizer object. This table is the one place that pairs them, in both directions:

- reading a GGUF (models/resolve.py): transformers' GGUF loader does not know every id (for SmolLM2's `smollm`
  it falls back to plain GPT-2 splitting and loses the one-digit-per-token rule), so we restore the split;
- writing a GGUF (export/gguf_writer.py): the id comes from the tokenizer we trained with, and an unknown split
  is refused rather than written as a guess (llama.cpp's converter refuses too).
"""

from __future__ import annotations

# GPT-2's split (contractions, letters, numbers, other, whitespace) as tokenizers' ByteLevel applies it.
_GPT2 = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
# llama.cpp's `smollm` (also `starcoder`, `refact`): each digit alone, then GPT-2's split.
_DIGITS_THEN_GPT2 = {"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": True}, _GPT2]}

# llama.cpp id -> the pre_tokenizer block of tokenizer.json (only the fields that change how text is split).
LLAMA_CPP_PRE: dict[str, dict] = {
    "gpt-2": _GPT2,
    "smollm": _DIGITS_THEN_GPT2,
}
# Other ids llama.cpp gives the same split to; reading a GGUF accepts them too.
_ALIASES = {"starcoder": "smollm", "refact": "smollm"}

_SPLIT_FIELDS = ("type", "add_prefix_space", "use_regex", "individual_digits", "pretokenizers")


def _essential(block):
    """The parts of a pre_tokenizer block that decide the split (drops offsets trimming and similar)."""
    if isinstance(block, list):
        return [_essential(b) for b in block]
    if not isinstance(block, dict):
        return block
    out = {k: _essential(v) for k, v in block.items() if k in _SPLIT_FIELDS}
    if out.get("type") == "ByteLevel":
        out.setdefault("use_regex", True)
        out.setdefault("add_prefix_space", False)
    return out


def llama_cpp_pre_name(tokenizer_json: dict) -> str:
    """llama.cpp's id for the split a tokenizer.json performs; ValueError when llama.cpp has none we know."""
    if tokenizer_json.get("normalizer"):
        raise ValueError("the tokenizer normalises text before splitting; llama.cpp's BPE would not")
    mine = _essential(tokenizer_json.get("pre_tokenizer"))
    for name, block in LLAMA_CPP_PRE.items():
        if mine == _essential(block):
            return name
    raise ValueError(f"pre-tokenizer {tokenizer_json.get('pre_tokenizer')!r} has no known llama.cpp id "
                     f"(known: {', '.join(LLAMA_CPP_PRE)}); exporting it would tokenize differently from training")


def hf_pre_tokenizer(llama_cpp_name: str | None):
    """The tokenizers pre-tokenizer for a GGUF's `tokenizer.ggml.pre`, or None when this table does not know it."""
    import json

    from tokenizers import Tokenizer, models

    block = LLAMA_CPP_PRE.get(_ALIASES.get(llama_cpp_name or "", llama_cpp_name or ""))
    if block is None:
        return None
    # Built from the same JSON that tokenizer.json holds, so the table is the only definition.
    holder = json.loads(Tokenizer(models.BPE()).to_str())
    holder["pre_tokenizer"] = block
    return Tokenizer.from_str(json.dumps(holder)).pre_tokenizer
