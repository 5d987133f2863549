"""The GBNF grammar a GGUF export carries (answer.gbnf) accepts exactly what eval's grammar accepts.

`eval`, `predict` and the server decode an extraction variant's answers under a Lark grammar (llguidance); llama.cpp
users get the same grammar written in GBNF. Each candidate answer below is run through both, as token ids of the
tiny tokenizer: the Lark grammar as eval compiles it, the GBNF one through llguidance's own GBNF reader. They must
agree on every candidate, and each candidate's expected verdict pins what the grammar is: the learned keys in
order, strings of at most MAX_STRING_CHARS characters in llguidance's JSON spelling, bounded numbers, bounded
whitespace, any JSON value for a key of mixed type. (llama.cpp reading the file itself: test_export_llama_cpp.py.)
"""

from __future__ import annotations

import pytest

from tuneforge.models.answer_grammar import MAX_STRING_CHARS, answer_gbnf, answer_grammar

SCHEMA = {"keys": ["name", "total", "extra", "naïve \"q\""],
          "key_types": {"name": "string", "total": "number", "extra": "other", "naïve \"q\"": "string"}}


def _answer(name='"a"', total="1", extra="1", last='"naïve \\"q\\"":"b"', open_ws="") -> str:
    return '{' + open_ws + f'"name":{name},"total":{total},"extra":{extra},{last}' + '}'


CANDIDATES = [
    (_answer(), True),
    ('{ "name" : "a" , "total" : 1 , "extra" : 1 , "naïve \\"q\\"" : "b" }', True),
    (_answer(open_ws=" " * 8), True),
    (_answer(open_ws=" " * 9), False),  # whitespace beyond its bound
    (_answer(last='"na\\u00efve \\"q\\"":"b"'), True),  # the key as json.dumps escapes it
    (_answer(name='"' + "x" * MAX_STRING_CHARS + '"'), True),
    (_answer(name='"' + "x" * (MAX_STRING_CHARS + 1) + '"'), False),
    (_answer(name='"' + "x" * (MAX_STRING_CHARS - 1) + '\\n"'), True),  # an escape is one character
    (_answer(name='"' + "é" * MAX_STRING_CHARS + '"'), True),
    (_answer(name='"\\u001f\\u007F\\b\\f\\n\\r\\t\\"\\\\"'), True),
    (_answer(name='"\\u00e9"'), False),  # llguidance escapes control characters only
    (_answer(name='"\\/"'), False),
    (_answer(name='"\x7f"'), False),
    (_answer(name='"tab\there"'), False),  # a raw control character
    (_answer(total="-123456789012345.123456"), True),
    (_answer(total="1234567890123456"), False),  # 16 integer digits
    (_answer(total="1.1234567"), False),
    (_answer(total="1e5"), False),
    (_answer(total="01"), False),
    (_answer(extra='[1, {"a": true, "b": null}, "\\u0001", -0.0E+1]'), True),
    (_answer(extra='[' + " " * 8 + '1]'), True),
    (_answer(extra='[' + " " * 9 + '1]'), False),
    (_answer(extra='"' + "y" * 600 + '"'), True),  # "other" strings have no bound
    (_answer(extra='{"\\/": 1}'), False),
    (_answer(extra="01"), False),
    ('{"total":1,"name":"a","extra":1,"naïve \\"q\\"":"b"}', False),  # keys out of order
    ('{"name":"a","total":1,"extra":1}', False),  # a key missing
    (_answer()[:-1] + ',"more":1}', False),
    (_answer() + " ", False),
]


@pytest.fixture(scope="module")
def accepts(tiny_model_dir):
    import llguidance.hf
    from llguidance import LLMatcher
    from llguidance.gbnf_to_lark import gbnf_to_lark
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    ll_tok = llguidance.hf.from_tokenizer(tok)

    def accepts(lark: str, text: str) -> bool:
        matcher = LLMatcher(ll_tok, LLMatcher.grammar_from_lark(lark), log_level=0)
        assert not matcher.is_error(), matcher.get_error()
        ids = tok.encode(text, add_special_tokens=False)
        return matcher.try_consume_tokens(ids) == len(ids) and matcher.is_accepting()

    return accepts, str(answer_grammar(SCHEMA)), gbnf_to_lark(answer_gbnf(SCHEMA))


@pytest.mark.parametrize("text,valid", CANDIDATES, ids=range(len(CANDIDATES)))
def test_the_gbnf_grammar_accepts_what_evals_grammar_accepts(accepts, text, valid):
    accepts_text, lark, from_gbnf = accepts
    assert accepts_text(lark, text) is valid
    assert accepts_text(from_gbnf, text) is valid


def test_no_keys_no_grammar():
    assert answer_gbnf(None) is None and answer_gbnf({"keys": []}) is None
