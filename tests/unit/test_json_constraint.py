"""JSON mode's prefix checker accepts exactly the prefixes of JSON objects."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tuneforge.serve.json_constraint import JsonPrefix

# U+FFFD is refused on purpose: it is what a token holding half of a multi-byte character decodes to.
_text = st.text(alphabet=st.characters(blacklist_characters="\ufffd"), max_size=8)
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | _text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(_text, _json, max_size=4), st.booleans())
def test_every_serialised_object_is_accepted_with_every_prefix(obj, pretty):
    text = json.dumps(obj, indent=2 if pretty else None, ensure_ascii=False)
    state = JsonPrefix()
    for ch in text:
        assert state.feed(ch), text
        assert state.closing_cost() >= 0
    assert state.complete and state.closing_cost() == 0


@pytest.mark.parametrize("text", ['[1]', '"x"', '{"a" 1}', '{"a": 01}', '{"a":1}}', '{,}', '{"a":1,}', '{"a": tru}',
                                  '{"a": "\x01"}', '{"a": 1.}', '{"a": -}', '{"a": "\\q"}', "{" + " " * 40 + "}"])
def test_invalid_texts_are_refused(text):
    state = JsonPrefix()
    assert not (state.feed(text) and state.complete)


def test_closing_cost_counts_the_characters_left():
    state = JsonPrefix()
    assert state.feed('{"a": [1, {"b": "x')
    assert state.closing_cost() == len('"}]}')
