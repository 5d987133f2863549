"""The engine: mixed-adapter batches answer exactly like each model alone; seeds, stops, limits, queue bound."""

from __future__ import annotations

import threading

import pytest

from tuneforge.serve.engine import Engine, GenRequest, QueueFull
from tuneforge.chat_encoding import encode_prompt

PROMPTS = [
    [{"role": "user", "content": "dell laptop"}],
    [{"role": "user", "content": "train ticket berlin to munich, second class"}],
    [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "slack"}],
]


@pytest.fixture(scope="module")
def engine(tiny_model_dir, tiny_variants):
    e = Engine(tiny_model_dir, {"alpha": tiny_variants["alpha"], "beta": tiny_variants["beta"]},
               max_batch=16, max_queue=32, batch_wait_s=0.05)
    yield e
    e.close()


def run_all(engine, requests: list[GenRequest]) -> list[tuple[str, str, int]]:
    """Submit together (so they share batches); return (text, finish_reason, tokens) per request."""
    results: list = [None] * len(requests)
    done = threading.Semaphore(0)
    for i, req in enumerate(requests):
        parts: list[str] = []

        def on_event(kind, *args, i=i, parts=parts):
            if kind == "delta":
                parts.append(args[0])
            else:
                results[i] = ("".join(parts), *args)
                done.release()

        req.on_event = on_event
    engine.submit_many(requests)
    for _ in requests:
        assert done.acquire(timeout=120)
    return results


def test_mixed_adapter_batch_matches_each_model_alone(engine, tiny_model_dir, tiny_variants):
    from peft import PeftModel

    from tuneforge.eval.generate import generate_batch
    from tuneforge.models.load import load_model

    tok = engine.tokenizer
    expected = {"__base__": [g.text for g in generate_batch(load_model(tiny_model_dir), tok, PROMPTS, 10)]}
    for name in ("alpha", "beta"):
        model = PeftModel.from_pretrained(load_model(tiny_model_dir), str(tiny_variants[name]))
        expected[engine.adapter_for(name)] = [g.text for g in generate_batch(model, tok, PROMPTS, 10)]
    cases = [(adapter, i) for adapter in expected for i in range(len(PROMPTS))]
    reqs = [GenRequest(encode_prompt(tok, PROMPTS[i]), adapter=adapter, max_tokens=10, temperature=0) for adapter, i in cases]
    got = run_all(engine, reqs)
    for (adapter, i), (text, reason, n) in zip(cases, got):
        assert text.strip() == expected[adapter][i], (adapter, i)
        assert reason in ("stop", "length") and n <= 10
    assert len({tuple(v) for v in expected.values()}) == 3  # the adapters really change the answers


def test_seeded_sampling_is_independent_of_batch_company(engine):
    ids = encode_prompt(engine.tokenizer, PROMPTS[0])
    alone = run_all(engine, [GenRequest(ids, temperature=1.0, top_p=0.95, seed=11, max_tokens=8)])[0]
    crowd = run_all(engine, [GenRequest(ids, temperature=1.0, top_p=0.95, seed=11, max_tokens=8)]
                    + [GenRequest(ids, temperature=0.7, seed=s, max_tokens=8) for s in range(5)])[0]
    assert alone == crowd


def test_length_and_stop_strings(engine):
    ids = encode_prompt(engine.tokenizer, PROMPTS[1])
    text, reason, n = run_all(engine, [GenRequest(ids, temperature=0, max_tokens=6)])[0]
    assert (reason, n) == ("length", 6)
    assert len(text) >= 3
    stop = text[1:3]
    cut, reason, _ = run_all(engine, [GenRequest(ids, temperature=0, max_tokens=6, stop=[stop])])[0]
    assert (cut, reason) == (text[: text.find(stop)], "stop")


def test_json_mode_closes_the_object_before_max_tokens(engine):
    import json

    ids = encode_prompt(engine.tokenizer, PROMPTS[0])
    for max_tokens in (4, 9, 20):
        text, reason, n = run_all(engine, [GenRequest(ids, temperature=1.0, seed=max_tokens, max_tokens=max_tokens,
                                                      json_mode=True)])[0]
        assert isinstance(json.loads(text), dict), text
        assert n <= max_tokens


def test_queue_bound_refuses_instead_of_growing(tiny_model_dir):
    e = Engine(tiny_model_dir, max_queue=2)
    try:
        with pytest.raises(QueueFull, match="capacity"):
            e.submit_many([GenRequest([1, 2, 3], max_tokens=1) for _ in range(3)])
    finally:
        e.close()


def test_shared_system_prompt_is_computed_once_with_the_same_answers(engine, tiny_model_dir):
    from tuneforge.eval.generate import generate_batch
    from tuneforge.models.load import load_model

    system = {"role": "system", "content": "categorise the supplier invoice line into one ledger category"}
    prompts = [[system, {"role": "user", "content": t}] for t in ("dell laptop", "hotel room munich", "jira")]
    tok = engine.tokenizer
    ids = [encode_prompt(tok, p) for p in prompts]
    from tuneforge.serve.engine import MIN_SHARED_PREFIX, _common_prefix_len

    assert _common_prefix_len(ids) >= MIN_SHARED_PREFIX  # the shared-prefix path is the one under test
    expected = [g.text for g in generate_batch(load_model(tiny_model_dir), tok, prompts, 10)]
    got = run_all(engine, [GenRequest(i, max_tokens=10, temperature=0) for i in ids])
    assert [text.strip() for text, _, _ in got] == expected
    # Marked as a shared prefix, the system prompt's cache is kept and reused by later batches.
    system_len = len(tok(tok.apply_chat_template([system], tokenize=False), add_special_tokens=False)["input_ids"])
    assert ids[0][:system_len] == ids[1][:system_len]
    engine._prefixes.clear()
    for i, prompt_ids in enumerate(ids):
        (text, _, _), = run_all(engine, [GenRequest(prompt_ids, max_tokens=10, temperature=0, prefix_len=system_len)])
        assert text.strip() == expected[i]
    assert len(engine._prefixes) == 1


def test_requests_join_a_running_batch_with_unchanged_answers(engine, tiny_model_dir, tiny_variants):
    """Continuous batching: a request arriving mid-decode joins the batch (cache rows aligned by padding)."""
    from peft import PeftModel

    from tuneforge.eval.generate import generate_batch
    from tuneforge.models.load import load_model

    tok = engine.tokenizer
    model = PeftModel.from_pretrained(load_model(tiny_model_dir), str(tiny_variants["beta"]))
    long_prompt, short_prompt = PROMPTS[1], PROMPTS[2]
    expected_long = generate_batch(model, tok, [long_prompt], 40)[0].text
    with model.disable_adapter():
        expected_short = generate_batch(model, tok, [short_prompt], 8)[0].text
    started = threading.Event()
    first: list = []
    second: list = []
    done = threading.Semaphore(0)

    def sink(parts, on_delta=None):
        def on_event(kind, *args):
            if kind == "delta":
                parts.append(args[0])
                if on_delta:
                    on_delta.set()
            else:
                done.release()
        return on_event

    before = engine.joined
    # The second request is sent once the first has produced text, so it arrives while the first is decoding.
    engine.submit(GenRequest(encode_prompt(tok, long_prompt), adapter=engine.adapter_for("beta"), max_tokens=40,
                             temperature=0, on_event=sink(first, started)))
    assert started.wait(60)
    engine.submit(GenRequest(encode_prompt(tok, short_prompt), max_tokens=8, temperature=0, on_event=sink(second)))
    assert done.acquire(timeout=60) and done.acquire(timeout=60)
    assert "".join(first).strip() == expected_long
    assert "".join(second).strip() == expected_short
    assert engine.joined == before + 1


def test_a_failing_batch_reports_an_error_and_the_engine_goes_on(engine, monkeypatch):
    ids = encode_prompt(engine.tokenizer, PROMPTS[0])
    calls = {"n": 0}
    real_forward = engine._forward

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:  # fail on the first decode step, after the prefill
            raise RuntimeError("boom")
        return real_forward(*args, **kwargs)

    monkeypatch.setattr(engine, "_forward", flaky)
    events = []
    done = threading.Event()
    engine.submit(GenRequest(ids, max_tokens=5, temperature=0,
                             on_event=lambda kind, *a: (events.append((kind, *a)), kind != "delta" and done.set())))
    assert done.wait(60)
    assert events[-1] == ("error", "RuntimeError: boom")
    monkeypatch.setattr(engine, "_forward", real_forward)
    text, reason, n = run_all(engine, [GenRequest(ids, max_tokens=3, temperature=0)])[0]
    assert n > 0 or reason == "stop"
