"""An extraction variant's answer format: valid JSON with the keys learned from its training answers.

One grammar, one decoder: `predict`, `eval` (eval/constrained.py) and the server (serve/answer_format.py) all
decode an extraction variant's answer under this grammar with llguidance (models/structured.py), so the answer a
user is served is the answer its evaluation scored, and it is always one JSON object with the learned keys.

The grammar is written in llguidance's Lark rather than as a JSON Schema for three reasons: the keys come in the
learned order (the order the model was trained to write); the whitespace around `:` and `,` is the model's
choice within a few characters (json.dumps's `", "`, compact or indented answers all fit); and every value has
a length bound, so an answer that never closes its string or keeps writing digits still ends as valid JSON
within a few hundred tokens. A key of mixed type ("other") takes any JSON value.

`answer_gbnf` writes the same grammar in llama.cpp's GBNF for GGUF exports (export/export.py): the same keys in
the same order, the same value types and bounds, the same whitespace, so llama.cpp decoding under it answers as
the evaluation did (the llama.cpp check, export/llama_cpp_check.py, compares them answer by answer).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from tuneforge.data.answer_schema import run_answer_schema
from tuneforge.models.structured import LarkGrammar

MAX_STRING_CHARS = 256  # a string value's bound, in characters
# A bound on each separator's whitespace, in characters (WS below).
_MAX_WS = 8
# A JSON number of at most 15 integer and 6 decimal digits (amounts, counts, years; no exponent).
_NUMBER = r"/-?(0|[1-9][0-9]{0,14})(\.[0-9]{1,6})?/"
# Inside a value (an "other" key's array or object) a little whitespace, bounded like the separators' WS.
_VALUE_OPTIONS = {"x-guidance": {"whitespace_pattern": r"[ \t\r\n]{0,%d}" % _MAX_WS}}


def _value_rule(kind: str) -> str:
    if kind == "number":
        return "NUMBER"
    schema = {"type": "string", "maxLength": MAX_STRING_CHARS} if kind == "string" else {}
    return "%json " + json.dumps({**_VALUE_OPTIONS, **schema})


def _key_literal(key: str, literal=lambda form: json.dumps(form, ensure_ascii=False)) -> str:
    """The key as a grammar literal, written raw or with JSON's \\u escapes (training answers may use either).
    `literal` spells one form as a string literal of the grammar's notation holding its characters as they are:
    Lark's by default, which takes Python-style escapes as JSON writes them."""
    literals = [literal(form) for form in dict.fromkeys([json.dumps(key, ensure_ascii=False), json.dumps(key)])]
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
                                  r"WS: /[ \t\r\n]{1,%d}/" % _MAX_WS, ""]))


def _gbnf_literal(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# The value rules of answer_grammar in GBNF. A string holds at most MAX_STRING_CHARS characters, an escape being
# one, as JSON Schema's maxLength counts them; "other" is any JSON value, its whitespace bounded as in _VALUE_OPTIONS.
# A character is llguidance's JSON string character (measured: tests/unit/test_answer_grammar_gbnf.py): DEL and the
# control characters escaped, \u only for those, no "\/".
_GBNF_VALUES = "\n".join([
    r'string ::= "\"" char{0,%d} "\""' % MAX_STRING_CHARS,
    r'char ::= [^"\\\x00-\x1F\x7F] | "\\" (["\\bfnrt] | "u00" [01] [0-9a-fA-F] | "u007" [fF])',
    r'number ::= "-"? ("0" | [1-9] [0-9]{0,14}) ("." [0-9]{1,6})?',
    r'value ::= object | array | any-string | any-number | "true" | "false" | "null"',
    r'object ::= "{" ws (any-string ws ":" ws value (ws "," ws any-string ws ":" ws value)*)? ws "}"',
    r'array ::= "[" ws (value (ws "," ws value)*)? ws "]"',
    r'any-string ::= "\"" char* "\""',
    r'any-number ::= "-"? ("0" | [1-9] [0-9]*) ("." [0-9]+)? ([eE] [-+]? [0-9]+)?',
    r"ws ::= [ \t\r\n]{0,%d}" % _MAX_WS,
])


def answer_gbnf(schema: dict | None) -> str | None:
    """`answer_grammar` in llama.cpp's GBNF: one JSON object with exactly the learned keys, in order."""
    if not schema or not schema.get("keys"):
        return None
    types = schema.get("key_types") or {}
    rule = {"string": "string", "number": "number"}
    pairs = [f'{_key_literal(key, _gbnf_literal)} ws ":" ws {rule.get(types.get(key), "value")}' for key in schema["keys"]]
    body = ' ws "," ws '.join(pairs)
    return f'root ::= "{{" ws {body} ws "}}"\n{_GBNF_VALUES}\n'


def answer_token_budget(schema: dict) -> int:
    """Tokens enough for the longest answer the grammar allows: the answer's max_tokens in `predict`, `eval` and
    the server alike, so all three end a long answer at the same place.

    Counted in characters (a token holds at least one), a string's characters twice: one may be written as a
    two-character escape (\\n) or take two byte-level tokens (an accented letter). Only an "other" value (any
    JSON: an array may run on) or a string of \\u escapes can reach the budget before the object closes.
    """
    types = schema.get("key_types") or {}
    # A string: its quotes and twice its characters; a number: NUMBER's 15 + 6 digits, "-" and ".".
    value_chars = {"string": 2 * MAX_STRING_CHARS + 2, "number": 23}
    # Per key: the key, its ":" and ",", whitespace on both sides of each, and its value.
    per_key = [len(json.dumps(key)) + 2 + 4 * _MAX_WS + value_chars.get(types.get(key), MAX_STRING_CHARS)
               for key in schema["keys"]]
    return 2 + 2 * _MAX_WS + sum(per_key) + 1  # the braces and their whitespace; the end-of-answer token


@dataclass(frozen=True)
class AnswerFormat:
    """The grammar an extraction variant's answers follow, and the token budget that lets it close."""

    grammar: LarkGrammar
    max_tokens: int


def answer_format(schema: dict | None) -> AnswerFormat | None:
    grammar = answer_grammar(schema)
    return None if grammar is None else AnswerFormat(grammar, answer_token_budget(schema))


def learned_answer_format(run: dict | None) -> AnswerFormat | None:
    """The answer format of a run's learned keys; None for variants whose answers are not JSON objects."""
    try:
        return answer_format(run_answer_schema(run))
    except (ValueError, OSError):  # a run from before the schema was recorded, whose data file no longer reads
        return None
