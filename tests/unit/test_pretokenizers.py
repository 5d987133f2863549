"""One table pairs llama.cpp's pre-tokenizer ids with tokenizer.json's pre_tokenizer blocks, both ways."""

from __future__ import annotations

import json

import pytest

from tuneforge.models.pretokenizers import hf_pre_tokenizer, llama_cpp_pre_name


def test_tokenizer_json_blocks_map_to_llama_cpp_ids(tiny_model_dir, tmp_path):
    from tuneforge.models.tiny import build_tiny_model

    plain = json.loads((tiny_model_dir / "tokenizer.json").read_text())
    digits = json.loads((build_tiny_model(tmp_path / "d", split_digits=True) / "tokenizer.json").read_text())
    assert llama_cpp_pre_name(plain) == "gpt-2"
    assert llama_cpp_pre_name(digits) == "smollm"
    plain["pre_tokenizer"]["use_regex"] = False  # no split at all: llama.cpp has no id for it
    with pytest.raises(ValueError, match="no known llama.cpp id"):
        llama_cpp_pre_name(plain)
    digits["normalizer"] = {"type": "NFC"}
    with pytest.raises(ValueError, match="normalises"):
        llama_cpp_pre_name(digits)


def test_llama_cpp_ids_give_the_split_back():
    assert [p for p, _ in hf_pre_tokenizer("smollm").pre_tokenize_str("EUR 2500")] == ["EUR", "Ġ", "2", "5", "0", "0"]
    assert [p for p, _ in hf_pre_tokenizer("gpt-2").pre_tokenize_str("EUR 2500")] == ["EUR", "Ġ2500"]
    assert hf_pre_tokenizer("starcoder") is not None and hf_pre_tokenizer("some-new-model") is None


def test_reading_a_smollm_gguf_keeps_its_digit_split(tmp_path):
    """transformers' GGUF loader falls back to GPT-2's split for `smollm`; the converted base must not."""
    from tuneforge.export.gguf_writer import write_gguf
    from tuneforge.models.load import load_tokenizer
    from tuneforge.models.resolve import dequantize_gguf
    from tuneforge.models.tiny import build_tiny_model

    base = build_tiny_model(tmp_path / "digits", split_digits=True)
    gguf_file = write_gguf(base, tmp_path / "digits.f32.gguf", "f32", name="digits")
    folder = dequantize_gguf(gguf_file, tmp_path / "converted")
    # A tiny vocabulary has no multi-digit merges to tell the splits apart by ids; compare the splits.
    assert llama_cpp_pre_name(json.loads((folder / "tokenizer.json").read_text())) == "smollm"
    converted = load_tokenizer(folder)
    text = "Invoice 2024-00017: 1.299,95 EUR"
    assert converted(text)["input_ids"] == load_tokenizer(base)(text)["input_ids"]
