"""An extraction variant's default answer format: valid JSON with the keys learned from its training answers.

`predict` and `eval` write such an answer key by key (eval/constrained.py). The server reaches the same promise
through its structured-generation path (llguidance, serve/structured.py): the learned keys and types (run.json
`data.answer_schema`) become a grammar that a chat request follows when it brings no `response_format`, so
batching, streaming and logprobs work as for a client's own `json_schema`.

The grammar is written in llguidance's Lark rather than as a JSON Schema for three reasons: the keys come in the
learned order (the order the model was trained to write); the whitespace around `:` and `,` is the model's
choice within a few characters (json.dumps's `", "`, compact or indented answers all fit); and every value has
a length bound, as predict's per-value token cap, so an answer that never closes its string or keeps writing
digits still ends as valid JSON before max_tokens. A key of mixed type ("other") takes any JSON value.

A request's own `response_format` wins (`{"type": "text"}` asks for the model's free text), and so does a tool
plan: a request that offers tools leaves the answer free to be a call.
"""

from __future__ import annotations

import json

from tuneforge.data.answer_schema import run_answer_schema
from tuneforge.serve.structured import LarkGrammar

MAX_STRING_CHARS = 256  # about predict's 48-token cap per value (eval/constrained.py)
# The token budget of a request that sets no max_tokens (capped by the context's room): the bounds above end an
# answer of a few keys well within it, so it is not cut into invalid JSON as the usual 512 could cut it.
FORMAT_MAX_TOKENS = 8192
# A JSON number of at most 15 integer and 6 decimal digits (amounts, counts, years; no exponent).
_NUMBER = r"/-?(0|[1-9][0-9]{0,14})(\.[0-9]{1,6})?/"
# Inside a value (an "other" key's array or object) a little whitespace, bounded like the separators' WS.
_VALUE_OPTIONS = {"x-guidance": {"whitespace_pattern": r"[ \t\r\n]{0,8}"}}


def _value_rule(kind: str) -> str:
    if kind == "number":
        return "NUMBER"
    schema = {"type": "string", "maxLength": MAX_STRING_CHARS} if kind == "string" else {}
    return "%json " + json.dumps({**_VALUE_OPTIONS, **schema})


def _key_literal(key: str) -> str:
    """The key as a Lark literal, written raw or with JSON's \\u escapes (training answers may use either)."""
    forms = dict.fromkeys([json.dumps(key, ensure_ascii=False), json.dumps(key)])
    # Each form as a Lark string literal holding its characters as they are (escaped for Lark, nothing more).
    literals = [json.dumps(form, ensure_ascii=False) for form in forms]
    return literals[0] if len(literals) == 1 else "(" + " | ".join(literals) + ")"


def answer_grammar(schema: dict | None) -> LarkGrammar | None:
    """The Lark grammar of one JSON object with exactly the learned keys, in order, each of its learned type."""
    if not schema or not schema.get("keys"):
        return None
    types = schema.get("key_types") or {}
    pairs, rules = [], []
    for i, key in enumerate(schema["keys"]):
        pairs.append(f"{_key_literal(key)} WS? \":\" WS? value_{i}")
        rules.append(f"value_{i}: {_value_rule(types.get(key, 'other'))}")
    body = ' WS? "," WS? '.join(pairs)
    return LarkGrammar("\n".join([f'start: "{{" WS? {body} WS? "}}"', *rules, f"NUMBER: {_NUMBER}",
                                  r"WS: /[ \t\r\n]{1,8}/", ""]))


def learned_answer_format(run: dict | None) -> LarkGrammar | None:
    """The grammar of a run's learned answer keys; None for variants whose answers are not JSON objects."""
    try:
        return answer_grammar(run_answer_schema(run))
    except (ValueError, OSError):  # a run from before the schema was recorded, whose data file no longer reads
        return None


def default_answer_format(body, served, tools) -> LarkGrammar | None:
    """The grammar a chat answer follows when the request sets no format of its own (None: free text)."""
    if body.response_format is not None or tools is not None:
        return None
    return served.answer_format
