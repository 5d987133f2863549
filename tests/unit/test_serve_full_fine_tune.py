"""A full fine-tune holds whole weights, not an adapter: the server answers it from an engine of its own, beside
the engine its LoRA siblings share with their base, and frees that engine when the variant stops being served."""

from __future__ import annotations

import threading

import pytest

from conftest import tiny_lora_config
from tuneforge.train.sft import train


@pytest.fixture
def runs(label_data, tiny_model_dir, tmp_path, one_torch_thread):
    quiet = dict(log=lambda *_: None)
    full = train(tiny_lora_config(label_data, tiny_model_dir, tmp_path / "full", epochs=3, method="full", lr=1e-3), **quiet)
    lora = train(tiny_lora_config(label_data, tiny_model_dir, tmp_path / "lora", epochs=3), **quiet)
    return full, lora


def _greedy_logprob(entry, prompt_ids) -> float:
    """The logprob of the one token the served model answers greedily."""
    from tuneforge.serve.engine import GenRequest

    events, done = [], threading.Event()

    def on_event(kind, *value):
        events.append((kind, value))
        if kind in ("done", "error"):
            done.set()

    entry.engine.submit(GenRequest(prompt_ids=prompt_ids, adapter=entry.adapter, max_tokens=1, temperature=0.0,
                                   logprobs=0, on_event=on_event))
    assert done.wait(60) and events[-1][0] == "done", events
    return next(e["logprob"] for kind, value in events if kind == "delta" for e in value[1])


def _expected(model, prompt_ids) -> float:
    import torch

    with torch.no_grad():
        return float(torch.log_softmax(model(torch.tensor([prompt_ids])).logits[0, -1].float(), -1).max())


def test_a_full_fine_tune_served_alone_does_not_load_its_base_beside_it(runs, tiny_model_dir):
    """Its engine holds a whole model; the base would be a second one. A LoRA sibling or `--model BASE` brings it."""
    from tuneforge.serve.catalog import plan

    full, lora = runs
    assert [(e.id, e.kind) for e in plan([str(full)])] == [("full", "variant")]
    assert {e.id for e in plan([str(full), str(tiny_model_dir)])} == {"full", tiny_model_dir.name}
    assert {e.id for e in plan([str(full), str(lora)])} == {"full", "lora", tiny_model_dir.name}


def test_a_full_fine_tune_is_served_from_its_own_engine_and_freed_when_unloaded(runs, tiny_model_dir):
    from tuneforge.models.load import load_model
    from tuneforge.models.variant import load_for_inference
    from tuneforge.serve.catalog import Catalog
    from tuneforge.serve.engine import QueueFull

    full, lora = runs
    catalog = Catalog.load([str(full), str(lora)], max_batch=4, batch_wait_s=0.0)
    try:
        entries = {e.id: e for e in catalog.list()}
        base = entries[tiny_model_dir.name]
        assert entries["full"].engine is not base.engine and entries["lora"].engine is base.engine
        assert len(catalog.engines) == 2
        prompt = base.engine.tokenizer("dell laptop", add_special_tokens=False)["input_ids"]
        served = {name: _greedy_logprob(entries[name], prompt) for name in ("full", "lora", tiny_model_dir.name)}
        wanted = {"full": _expected(load_for_inference(str(full)).model, prompt),
                  "lora": _expected(load_for_inference(str(lora)).model, prompt),
                  tiny_model_dir.name: _expected(load_model(tiny_model_dir), prompt)}
        assert served == pytest.approx(wanted, abs=1e-4) and len({round(v, 4) for v in wanted.values()}) == 3

        # Added while serving (a job's model), answered, then removed: its engine goes with it.
        added = catalog.add("full-again", full)
        assert added.engine not in (base.engine, entries["full"].engine) and len(catalog.engines) == 3
        assert _greedy_logprob(added, prompt) == pytest.approx(wanted["full"], abs=1e-4)
        catalog.remove("full-again")
        assert len(catalog.engines) == 2 and not added.engine.worker.is_alive()

        # Detached (the registry moved on) and unloaded: the engine stops and leaves; a late request is refused.
        engine = catalog.detach("full").engine
        for _ in range(600):
            if catalog.unload(entries["full"]):
                break
            threading.Event().wait(0.05)
        assert engine.retired and engine.model is None and catalog.engines == [base.engine]
        with pytest.raises(QueueFull, match="unloaded"):
            _greedy_logprob(entries["full"], prompt)
    finally:
        catalog.close()
