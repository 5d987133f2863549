"""Constrained decoding on a tiny random model: the label picked is the most likely one, JSON is always valid."""

from __future__ import annotations

import json


def test_label_scoring_picks_the_most_likely_label(tiny_model_dir):
    import torch

    from tuneforge.eval.constrained import label_continuations, score_labels
    from tuneforge.models.load import load_model, load_tokenizer

    tok, model = load_tokenizer(tiny_model_dir), load_model(tiny_model_dir)
    forms = ["software", "travel", "hardware", "office supplies"]
    prompts = [[{"role": "user", "content": t}] for t in ("adobe licence", "train ticket", "usb keyboard")]
    got = score_labels(model, tok, prompts, forms, batch_size=5)  # batches mix prompts and labels
    for prompt, g in zip(prompts, got):
        # Reference: each label scored alone, without padding or batching.
        prompt_ids, conts = label_continuations(tok, prompt, forms)
        scores = []
        for cont in conts:
            ids = torch.tensor([prompt_ids + cont])
            with torch.no_grad():
                logp = torch.log_softmax(model(ids).logits.float(), -1)[0]
            scores.append(sum(float(logp[len(prompt_ids) + i - 1, t]) for i, t in enumerate(cont)))
        assert g.text == forms[max(range(len(forms)), key=scores.__getitem__)]
        assert g.text in forms and g.tokens_in == len(prompt_ids)


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
    assert _read_value(" true, ", "other") is True
