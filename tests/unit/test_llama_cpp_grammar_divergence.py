"""Why a GGUF's grammar-decoded answer parts from the evaluated one: the file, or the decoder.

llguidance (eval, predict, serve) keeps text the grammar forces, such as a key, in its canonical tokens; llama.cpp's
GBNF checks bytes only and may write the same key in other tokens, after which its answer can go its own way. The
llama.cpp check tells the two apart at the first differing token: a token the evaluation's decoder does not allow
there is the decoder; a token both allow is the file's numbers (an F32 file must not have those).
"""

from __future__ import annotations

import math


def _setup(extraction_run):
    from tuneforge.chat_encoding import encode_prompt
    from tuneforge.data.answer_schema import run_answer_schema
    from tuneforge.models.variant import load_for_inference

    loaded = load_for_inference(str(extraction_run))
    tok = loaded.tokenizer
    full = encode_prompt(tok, [{"role": "user", "content": "Rechnung von Firma 1 GmbH, 101 EUR"}])
    ours = tok.encode('{"supplier": "Firma 1 GmbH", "total": 101, "currency": "EUR"}', add_special_tokens=False)
    return loaded, run_answer_schema(loaded.run), tok, full, ours


def test_the_evaluations_decoder_allows_a_forced_key_in_its_canonical_tokens_only(extraction_run):
    from tuneforge.eval.constrained import json_answer_allows

    loaded, schema, tok, _, ours = _setup(extraction_run)
    pp, p = tok.convert_tokens_to_ids(["pp", "p"])
    i = ours.index(pp)  # "supplier" is s, u, pp, lier in the tiny vocabulary
    allows = lambda prefix, token: json_answer_allows(loaded.model, tok, schema, prefix, token)  # noqa: E731
    assert allows(ours[:i], pp) and not allows(ours[:i], p)  # the same bytes, other tokens
    assert not allows(ours[:i], tok.convert_tokens_to_ids("x"))  # other bytes
    # Where the answer is free (a value's digits), any token that keeps it valid is allowed.
    j = next(k for k in range(len(ours)) if tok.decode(ours[:k]).endswith('"total": 1'))
    assert allows(ours[:j], tok.convert_tokens_to_ids("2"))


def test_the_check_names_a_key_written_in_other_tokens_as_the_decoder(extraction_run):
    from tuneforge.export.divergence import grammar_divergence
    from tuneforge.export.llama_cpp_check import FileCheck

    loaded, schema, tok, full, ours = _setup(extraction_run)
    pp, p = tok.convert_tokens_to_ids(["pp", "p"])
    i = ours.index(pp)
    apart = grammar_divergence(loaded, schema, full, ours, ours[:i] + [p, p] + ours[i + 1:])
    assert apart["step"] == i and apart["evaluation_allows_export_token"] is False
    # Another digit in the total: both decoders allow it, so the logits chose: the file's, with the margin.
    j = next(k for k in range(len(ours)) if tok.decode(ours[:k]).endswith('"total": 1'))
    digit = grammar_divergence(loaded, schema, full, ours, ours[:j] + [tok.convert_tokens_to_ids("2")])
    assert digit["step"] == j and digit["evaluation_allows_export_token"] is True
    assert math.isfinite(digit["variant_margin"])
    # An F32 file passes when every answer is identical or parted in the decoder; a file difference fails it.
    check = FileCheck("x.f32.gguf", "f32", 9, 9, 3, 3, 3, 2, answers_tokenized_apart=1)
    assert check.passed
    check.answers_tokenized_apart = 0
    assert not check.passed
