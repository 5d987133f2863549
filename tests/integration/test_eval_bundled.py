"""Constrained decoding on the real bundled model: a real vocabulary (the grammar across merged tokens such as
`",`) and a real chat template (SmolLM2 adds a default system prompt)."""

from __future__ import annotations

import json

import pytest

from tuneforge.paths import examples_dir

pytestmark = pytest.mark.integration


def test_constrained_decoding_with_the_real_model():
    from tuneforge.data.formats import load_examples
    from tuneforge.eval.constrained import json_answers, score_labels
    from tuneforge.eval.task_types import detect_task
    from tuneforge.models.load import load_model, load_tokenizer
    from tuneforge.models.resolve import resolve_base

    path = resolve_base("smollm2-135m").path
    tok, model = load_tokenizer(path), load_model(path)

    cats, _ = load_examples(examples_dir() / "invoice-categories" / "test.jsonl")
    pool, _ = load_examples(examples_dir() / "invoice-categories" / "train.jsonl")
    spec = detect_task([e.answer for e in cats[:3]], [e.answer for e in pool])
    assert spec.type == "classification" and len(spec.labels) == 12
    forms = [spec.label_forms[lab] for lab in spec.labels]
    for g in score_labels(model, tok, [e.prompt_messages for e in cats[:3]], forms):
        assert g.text in forms

    inv, _ = load_examples(examples_dir() / "invoice-extraction" / "test.jsonl")
    spec = detect_task([e.answer for e in inv])
    (g,) = json_answers(model, tok, [inv[0].prompt_messages], {"keys": spec.keys, "key_types": spec.key_types})
    obj = json.loads(g.text)
    assert list(obj) == ["supplier", "invoice_number", "date", "currency", "total", "vat"]
    assert all(isinstance(obj[k], str) for k in ("supplier", "invoice_number", "date", "currency"))
    assert all(isinstance(obj[k], (int, float)) for k in ("total", "vat"))
    # A value ends at its closing quote even when the tokenizer merges the quote with what follows.
    assert all('"' not in obj[k] for k in ("supplier", "invoice_number", "date", "currency")), obj
