"""The grammar an extraction variant answers with by default (models/answer_grammar.py): every way a training
answer may be formatted fits it, and nothing outside the learned keys, their order, types and bounds does."""

from __future__ import annotations

import json

import pytest

from tuneforge.models.answer_grammar import MAX_STRING_CHARS, answer_format, answer_grammar, answer_token_budget

SCHEMA = {"type": "json_object", "keys": ["supplier", "total", "lines"],
          "key_types": {"supplier": "string", "total": "number", "lines": "other"}}
ANSWER = {"supplier": "Firma 3 GmbH", "total": 1409.65, "lines": [{"qty": 2, "sku": "A-1"}, None]}


def _checker(tiny_model_dir, schema: dict):
    """A function telling whether a whole text fits the learned grammar of `schema` (tokenised as the model would)."""
    import llguidance.hf
    from llguidance import LLMatcher
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    grammar = LLMatcher.grammar_from_lark(str(answer_grammar(schema)))
    ll_tokenizer = llguidance.hf.from_tokenizer(tok)

    def check(text: str) -> bool:
        matcher = LLMatcher(ll_tokenizer, grammar, log_level=0)
        ok = all(matcher.consume_token(t) for t in tok(text, add_special_tokens=False)["input_ids"])
        return ok and matcher.is_accepting()

    return check


@pytest.fixture(scope="module")
def accepts(tiny_model_dir):
    return _checker(tiny_model_dir, SCHEMA)


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


def test_keys_with_quotes_and_accents_fit_raw_or_escaped(tiny_model_dir):
    keys = ["Straße", 'say "hi"', "back\\slash"]
    fits = _checker(tiny_model_dir, {"keys": keys, "key_types": {}})
    obj = dict.fromkeys(keys, 1)
    assert fits(json.dumps(obj)) and fits(json.dumps(obj, ensure_ascii=False))
    assert not fits(json.dumps(obj, ensure_ascii=False).replace("ß", "ss"))


def test_the_token_budget_holds_the_longest_answer_the_grammar_allows(tiny_model_dir):
    """`predict`, `eval` and the server give an answer this budget: any answer of string and number values
    closes within it (the tiny vocabulary is nearly one character a token, the worst case)."""
    from transformers import AutoTokenizer

    schema = {"keys": ["supplier", "total", "note"], "key_types": {"supplier": "string", "total": "number",
                                                                  "note": "string"}}
    ws = "\n" * 8
    values = {"supplier": json.dumps("x" * MAX_STRING_CHARS), "total": "-" + "9" * 15 + "." + "9" * 6,
              "note": json.dumps("y" * MAX_STRING_CHARS)}
    pairs = [f"{json.dumps(key)}{ws}:{ws}{values[key]}" for key in schema["keys"]]
    longest = "{" + ws + f"{ws},{ws}".join(pairs) + ws + "}"
    assert _checker(tiny_model_dir, schema)(longest)
    tokens = AutoTokenizer.from_pretrained(tiny_model_dir)(longest, add_special_tokens=False)["input_ids"]
    assert len(tokens) + 1 <= answer_token_budget(schema)  # + the end-of-answer token


def test_variants_without_json_answers_have_no_default_format():
    assert answer_grammar(None) is None and answer_grammar({"keys": []}) is None


def test_the_served_format_ends_as_valid_json_without_max_tokens(tools_model_dir):
    """Many keys whose values random weights fill at length: an answer longer than the usual 512-token default
    (the tools model is the tiny one with a 4096-token context). Through the official openai client, with no
    max_tokens, it still ends as JSON."""
    import openai
    from starlette.testclient import TestClient

    from tuneforge.serve.app import create_app
    from tuneforge.serve.catalog import Catalog, ServedModel
    from tuneforge.serve.engine import Engine

    keys = [f"field_{i}" for i in range(24)]
    engine = Engine(tools_model_dir, max_batch=2, max_queue=4, batch_wait_s=0.0)
    fmt = answer_format({"keys": keys, "key_types": dict.fromkeys(keys, "string")})
    catalog = Catalog([ServedModel("extract", "variant", str(tools_model_dir), None, None, 0, engine,
                                   answer_format=fmt)], [engine])
    try:
        client = openai.OpenAI(base_url="http://testserver/v1", api_key="unused", max_retries=0,
                               http_client=TestClient(create_app(catalog)))
        done = client.chat.completions.create(model="extract", temperature=0,
                                              messages=[{"role": "user", "content": "invoice 7"}])
        assert done.choices[0].finish_reason == "stop"
        assert list(json.loads(done.choices[0].message.content)) == keys
        assert done.usage.completion_tokens > 512, done.usage  # the case the usual default would have cut
    finally:
        catalog.close()
