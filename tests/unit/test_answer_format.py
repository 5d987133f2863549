"""The grammar an extraction variant answers with by default (serve/answer_format.py): every way a training
answer may be formatted fits it, and nothing outside the learned keys, their order, types and bounds does."""

from __future__ import annotations

import json

import pytest

from tuneforge.serve.answer_format import MAX_STRING_CHARS, answer_grammar

SCHEMA = {"type": "json_object", "keys": ["supplier", "total", "lines"],
          "key_types": {"supplier": "string", "total": "number", "lines": "other"}}
ANSWER = {"supplier": "Firma 3 GmbH", "total": 1409.65, "lines": [{"qty": 2, "sku": "A-1"}, None]}


@pytest.fixture(scope="module")
def accepts(tiny_model_dir):
    import llguidance.hf
    from llguidance import LLMatcher
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    grammar = LLMatcher.grammar_from_lark(str(answer_grammar(SCHEMA)))
    ll_tokenizer = llguidance.hf.from_tokenizer(tok)

    def check(text: str) -> bool:
        matcher = LLMatcher(ll_tokenizer, grammar, log_level=0)
        ok = all(matcher.consume_token(t) for t in tok(text, add_special_tokens=False)["input_ids"])
        return ok and matcher.is_accepting()

    return check


def test_training_answers_in_any_common_format_fit(accepts):
    for text in (json.dumps(ANSWER), json.dumps(ANSWER, separators=(",", ":")), json.dumps(ANSWER, indent=2),
                 json.dumps({**ANSWER, "total": -7, "supplier": 'quote " and ü'}, ensure_ascii=False)):
        assert accepts(text), text


@pytest.mark.parametrize("text", [
    json.dumps({"total": 1, "supplier": "A", "lines": []}),  # learned order
    json.dumps({"supplier": "A", "total": 1}),  # a key missing
    json.dumps({**ANSWER, "extra": 1}),  # a key not learned
    json.dumps({**ANSWER, "total": "12"}),  # a number as a string
    json.dumps({**ANSWER, "total": 10 ** 16}),  # more digits than any amount: a runaway number
    json.dumps({**ANSWER, "supplier": "a" * (MAX_STRING_CHARS + 1)}),  # a string that never closes
    json.dumps(ANSWER).replace(": ", ":" + " " * 9, 1),  # whitespace padding without end
])
def test_anything_else_does_not(accepts, text):
    assert not accepts(text)


def test_variants_without_json_answers_have_no_default_format():
    assert answer_grammar(None) is None and answer_grammar({"keys": []}) is None
