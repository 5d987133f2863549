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


def test_free_generation_counts_each_prompts_own_tokens(tiny_model_dir):
    from tuneforge.chat_encoding import encode_prompt
    from tuneforge.eval.generate import generate_batch
    from tuneforge.models.load import load_model, load_tokenizer

    tok, model = load_tokenizer(tiny_model_dir), load_model(tiny_model_dir)
    prompts = [[{"role": "user", "content": "hi"}], [{"role": "user", "content": "a much longer invoice line " * 5}]]
    gens = generate_batch(model, tok, prompts, 2, batch_size=2)  # one batch, the short prompt left-padded
    assert [g.tokens_in for g in gens] == [len(encode_prompt(tok, p)) for p in prompts]
    assert gens[0].tokens_in < gens[1].tokens_in


SCHEMA = {"keys": ["supplier", "total", "paid"], "key_types": {"supplier": "string", "total": "number", "paid": "other"}}
PROMPTS = [[{"role": "user", "content": f"invoice {i} from acme total 12.50 eur" + " item" * i}] for i in range(3)]


def test_json_answers_are_valid_objects_with_the_learned_keys(tools_model_dir):
    """Random weights pad the answer with all the whitespace and digits the grammar allows, so its bounds are what
    end each value; three prompts of different lengths in batches of two exercise the left padding."""
    from tuneforge.eval.constrained import json_answers
    from tuneforge.models.load import load_model, load_tokenizer

    tok, model = load_tokenizer(tools_model_dir), load_model(tools_model_dir)
    for g in json_answers(model, tok, PROMPTS, SCHEMA, batch_size=2):
        obj = json.loads(g.text)
        assert list(obj) == SCHEMA["keys"]
        assert isinstance(obj["supplier"], str) and isinstance(obj["total"], (int, float))
        assert g.ids[-1] in tok.all_special_ids  # ended by a stop token, not cut at the budget


def test_eval_decodes_json_answers_as_the_server_does(tools_model_dir):
    """`eval` and `predict` score the answer the server gives: the same grammar and budget
    (models/answer_grammar.py), stepped over the same greedy tokens, so the texts are equal character for character."""
    import openai
    from starlette.testclient import TestClient

    from tuneforge.eval.constrained import json_answers
    from tuneforge.models.answer_grammar import answer_format
    from tuneforge.models.load import load_model, load_tokenizer
    from tuneforge.serve.app import create_app
    from tuneforge.serve.catalog import Catalog, ServedModel
    from tuneforge.serve.engine import Engine

    tok, model = load_tokenizer(tools_model_dir), load_model(tools_model_dir)
    evaluated = [g.text for g in json_answers(model, tok, PROMPTS, SCHEMA, batch_size=1)]
    engine = Engine(tools_model_dir, max_batch=1, max_queue=4, batch_wait_s=0.0)
    catalog = Catalog([ServedModel("extract", "variant", str(tools_model_dir), None, None, 0, engine,
                                   answer_format=answer_format(SCHEMA))], [engine])
    try:
        client = openai.OpenAI(base_url="http://testserver/v1", api_key="unused", max_retries=0,
                               http_client=TestClient(create_app(catalog)))
        served = [client.chat.completions.create(model="extract", temperature=0, messages=p).choices[0].message.content
                  for p in PROMPTS]
    finally:
        catalog.close()
    assert served == evaluated
