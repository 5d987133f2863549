"""Structured generation through llguidance: the server's `response_format` (json_object / json_schema) and
forced tool calls, and every extraction variant's answer in `predict`, `eval` and `serve` (models/answer_grammar.py).

llguidance (the grammar engine behind Guidance, also used by vLLM and llama.cpp) compiles a JSON schema into a
grammar and, at each step, gives the set of tokens that keep the answer a valid prefix; end-of-answer is allowed
only once the value is complete. It was chosen over lm-format-enforcer by measurement (docs/deploy.md,
benchmarks/structured_generation.py): on SmolLM2-135M 0.4-0.5 ms of mask work per token against 0.9-17 ms, and
compact output that finishes within the token budget.

A `Grammars` object belongs to one tokenizer (the server's engine, or eval/constrained.py's decoder): it builds
llguidance's view of the vocabulary once and caches compiled grammars, so each row only copies a ready matcher.
Rows keep their own matcher, so rows with different schemas and different adapters decode in the same batch.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict

GRAMMAR_CACHE_ENTRIES = 64
# Compact JSON: a small model offered free whitespace can pad an answer with newlines until max_tokens.
_COMPILE_OPTIONS = {"whitespace_flexible": False}
ANY_OBJECT = {"type": "object"}


class SchemaError(ValueError):
    """The schema cannot be compiled (the server answers 400 naming response_format.json_schema.schema)."""


class LarkGrammar(str):
    """A grammar in llguidance's Lark syntax (a forced tool call, serve/tool_calls.py), given where a schema
    would be: compiled, cached and applied per row the same way."""


class RowConstraint:
    """One row's grammar state: which tokens may come next, and advancing over the chosen one."""

    def __init__(self, matcher, n_vocab: int):
        self.matcher = matcher
        self.n_vocab = n_vocab

    def allowed(self, width: int):
        """Bool tensor of `width` (the logits' size): True where the token keeps the answer valid."""
        import numpy as np
        import torch

        bits = np.unpackbits(np.frombuffer(self.matcher.compute_bitmask(), dtype=np.uint8), bitorder="little")
        mask = torch.zeros(width, dtype=torch.bool)
        n = min(width, self.n_vocab)
        mask[:n] = torch.from_numpy(bits[:n].astype(bool))
        return mask

    def advance(self, token: int) -> None:
        self.matcher.consume_token(token)

    @property
    def error(self) -> str | None:
        return self.matcher.get_error() if self.matcher.is_error() else None


class Grammars:
    def __init__(self, tokenizer, stop_ids: list[int]):
        self.tokenizer = tokenizer
        self.stop_ids = sorted(stop_ids)
        self._ll_tokenizer = None
        self._compiled: OrderedDict[str, object] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def ll_tokenizer(self):
        # Built lazily (about a second for a 49k vocabulary): a server that never sees response_format pays nothing.
        if self._ll_tokenizer is None:
            import llguidance.hf

            self._ll_tokenizer = llguidance.hf.from_tokenizer(self.tokenizer, eos_token=self.stop_ids)
        return self._ll_tokenizer

    def token_bytes(self, token: int) -> bytes:
        """The exact bytes of one token (a byte-level BPE token may hold part of a UTF-8 character)."""
        return self.ll_tokenizer.decode_bytes([token])

    def compile(self, schema: dict | None):
        """A matcher for `schema` (None: any JSON object), compiled once and cached; raises SchemaError."""
        from llguidance import LLMatcher

        lark = isinstance(schema, LarkGrammar)
        # Not sort_keys: llguidance writes properties in the schema's order, as OpenAI does; sorting reordered them.
        key = "lark:" + schema if lark else json.dumps(schema if schema is not None else ANY_OBJECT)
        with self._lock:
            if key in self._compiled:
                self._compiled.move_to_end(key)
                return self._compiled[key]
        try:
            grammar = (LLMatcher.grammar_from_lark(str(schema)) if lark
                       else LLMatcher.grammar_from_json_schema(key, overrides=_COMPILE_OPTIONS))
        except (ValueError, TypeError) as err:
            raise SchemaError(str(err)) from None
        matcher = LLMatcher(self.ll_tokenizer, grammar, log_level=0)
        if matcher.is_error():
            raise SchemaError(matcher.get_error())
        with self._lock:
            self._compiled[key] = matcher
            while len(self._compiled) > GRAMMAR_CACHE_ENTRIES:
                self._compiled.popitem(last=False)
        return matcher

    def row(self, schema: dict | None) -> RowConstraint:
        return RowConstraint(self.compile(schema).deep_copy(), self.ll_tokenizer.vocab_size)
