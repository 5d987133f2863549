"""Answer-only labels through the model's own chat template; the EOS token is trained so variants stop."""

from __future__ import annotations

from tuneforge.models.load import load_tokenizer
from tuneforge.chat_encoding import IGNORE_INDEX, encode_conversation, encode_prompt


def test_labels_cover_answer_and_eos_only(tiny_model_dir):
    tok = load_tokenizer(tiny_model_dir)
    msgs = [
        {"role": "system", "content": "answer with the category"},
        {"role": "user", "content": "adobe licence"},
        {"role": "assistant", "content": "software"},
    ]
    enc = encode_conversation(tok, msgs, max_len=512)
    trained = [t for t, lab in zip(enc.input_ids, enc.labels) if lab != IGNORE_INDEX]
    text = tok.decode(trained)
    assert text.startswith("software<|im_end|>")
    # The prompt the model sees at inference is exactly the untrained prefix.
    prompt = encode_prompt(tok, msgs[:-1])
    assert enc.input_ids[: len(prompt)] == prompt
    assert all(lab == IGNORE_INDEX for lab in enc.labels[: len(prompt)])


def test_multi_turn_and_weight_zero(tiny_model_dir):
    tok = load_tokenizer(tiny_model_dir)
    msgs = [
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": "first", "weight": 0},
        {"role": "user", "content": "two"},
        {"role": "assistant", "content": "second"},
    ]
    enc = encode_conversation(tok, msgs, max_len=512)
    trained = tok.decode([t for t, lab in zip(enc.input_ids, enc.labels) if lab != IGNORE_INDEX])
    assert "second" in trained and "first" not in trained


def test_truncation_is_reported(tiny_model_dir):
    tok = load_tokenizer(tiny_model_dir)
    msgs = [{"role": "user", "content": "the quick brown fox " * 20}, {"role": "assistant", "content": "x"}]
    enc = encode_conversation(tok, msgs, max_len=16)
    assert enc.truncated and len(enc.input_ids) == 16
