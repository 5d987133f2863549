"""Constrained decoding on a tiny random model: the label picked is the most likely one, JSON is always valid."""

from __future__ import annotations

import json

import pytest


def test_label_scoring_picks_the_most_likely_label(tiny_model_dir):
    import torch

    from tuneforge.eval.constrained import label_continuations, label_logprobs, score_labels
    from tuneforge.models.load import load_model, load_tokenizer

    tok, model = load_tokenizer(tiny_model_dir), load_model(tiny_model_dir)
    forms = ["software", "travel", "hardware", "office supplies"]
    texts = ("adobe licence", "train ticket to berlin and a hotel room in munich", "usb keyboard")
    prompts = [[{"role": "user", "content": t}] for t in texts]
    # Two prompts of different lengths per pass: left padding and the shared prompt cache are exercised.
    got = label_logprobs(model, tok, prompts, forms, batch_size=8)
    for prompt, (g, batched) in zip(prompts, got):
        # Reference: each label scored alone, as one plain forward pass without padding or cache.
        prompt_ids, conts = label_continuations(tok, prompt, forms)
        alone = []
        for cont in conts:
            with torch.no_grad():
                logp = torch.log_softmax(model(torch.tensor([prompt_ids + cont])).logits.float(), -1)[0]
            alone.append(sum(float(logp[len(prompt_ids) + i - 1, t]) for i, t in enumerate(cont)))
        assert batched == pytest.approx(alone, abs=1e-4)
        assert g.text == forms[max(range(len(forms)), key=alone.__getitem__)]
        assert g.tokens_in == len(prompt_ids)
    assert [g.text for g in score_labels(model, tok, prompts, forms)] == [g.text for g, _ in got]


def test_json_fill_gives_valid_objects_with_the_expected_keys(tiny_model_dir):
    from tuneforge.eval.constrained import _read_value, fill_json
    from tuneforge.models.load import load_model, load_tokenizer

    tok, model = load_tokenizer(tiny_model_dir), load_model(tiny_model_dir)
    prompts = [[{"role": "user", "content": f"invoice {i} from acme total 12.50 eur"}] for i in range(3)]
    keys, types = ["supplier", "total", "paid"], {"supplier": "string", "total": "number", "paid": "other"}
    for g in fill_json(model, tok, prompts, keys, types, max_value_tokens=6, batch_size=2):
        obj = json.loads(g.text)
        assert list(obj) == keys
        assert isinstance(obj["supplier"], str)
        assert obj["total"] is None or isinstance(obj["total"], (int, float))
    # How a value is read back from what the model wrote.
    assert _read_value('Acme \\"Best\\" GmbH", "x', "string") == 'Acme "Best" GmbH'
    assert _read_value(" 119.50, ", "number") == 119.5
    assert _read_value(" 12}", "number") == 12
    assert _read_value("EUR 5", "number") is None
    # Amounts copied in the source document's own format are read as the number they are.
    for written, value in (("1.409,65", 1409.65), ("1,409.65", 1409.65), ("6'789.44", 6789.44), ("1 409,65", 1409.65),
                           ("12.345.678", 12345678), ("0,0", 0.0), ("-3.5", -3.5)):
        assert _read_value(f" {written}, \"vat\"", "number") == value, written
    assert _read_value(" true, ", "other") is True
