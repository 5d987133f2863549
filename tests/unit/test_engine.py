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


engine_entries: list[list[dict]] = []  # logprob entries of the last run_all's requests


def run_all(engine, requests: list[GenRequest]) -> list[tuple[str, str, int]]:
    """Submit together (so they share batches); return (text, finish_reason, tokens) per request."""
    results: list = [None] * len(requests)
    done = threading.Semaphore(0)
    engine_entries.clear()
    for i, req in enumerate(requests):
        parts: list[str] = []
        entries: list[dict] = []
        engine_entries.append(entries)

        def on_event(kind, *args, i=i, parts=parts, entries=entries):
            if kind == "delta":
                parts.append(args[0])
                entries.extend(args[1])
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


def test_temperature_sampling_draws_and_the_seed_fixes_the_draw(engine):
    """Guards what the batch-company test cannot see: a sampler that always took the greedy token, or ignored the
    seed, would still give the same answer alone and in company."""
    ids = encode_prompt(engine.tokenizer, PROMPTS[0])

    def token_runs(requests):
        run_all(engine, requests)
        return [tuple(e["token"] for e in entries) for entries in engine_entries]

    (greedy,) = token_runs([GenRequest(ids, temperature=0, max_tokens=8, logprobs=0)])
    seeded = [GenRequest(ids, temperature=1.0, seed=s, max_tokens=8, logprobs=0) for s in range(6)]
    drawn = token_runs(seeded)
    assert len(greedy) == 8 and all(len(d) == 8 for d in drawn)  # no early stop hides the draws
    assert token_runs([GenRequest(ids, temperature=1.0, seed=s, max_tokens=8, logprobs=0) for s in range(6)]) == drawn
    assert len(set(drawn)) == len(drawn) and greedy not in drawn, (greedy, drawn)


def test_sampled_tokens_follow_the_softmax_at_the_temperature_within_top_p():
    import torch

    from tuneforge.serve.sampling import sample_row

    p = torch.tensor([0.5, 0.3, 0.15, 0.05])
    generator = torch.Generator().manual_seed(0)

    def frequencies(temperature, top_p, draws=4000):
        tokens = torch.tensor([sample_row(p.log(), temperature, top_p, generator) for _ in range(draws)])
        return (torch.bincount(tokens, minlength=4) / draws).tolist()

    # About 4 standard errors at 4,000 draws; the seed makes it the same draw every run.
    assert frequencies(1.0, 1.0) == pytest.approx(p.tolist(), abs=0.03)
    assert frequencies(0.5, 1.0) == pytest.approx((p ** 2 / (p ** 2).sum()).tolist(), abs=0.03)
    # top_p 0.7 keeps the fewest most likely tokens whose mass reaches 0.7 (0.5 + 0.3), renormalised.
    assert frequencies(1.0, 0.7) == pytest.approx([0.625, 0.375, 0.0, 0.0], abs=0.03)


def test_length_and_stop_strings(engine):
    ids = encode_prompt(engine.tokenizer, PROMPTS[1])
    text, reason, n = run_all(engine, [GenRequest(ids, temperature=0, max_tokens=6)])[0]
    assert (reason, n) == ("length", 6)
    assert len(text) >= 3
    stop = text[1:3]
    cut, reason, _ = run_all(engine, [GenRequest(ids, temperature=0, max_tokens=6, stop=[stop])])[0]
    assert (cut, reason) == (text[: text.find(stop)], "stop")


def test_schemas_and_adapters_mix_in_one_batch_and_every_answer_fits_its_schema(engine):
    import json

    ids = encode_prompt(engine.tokenizer, PROMPTS[0])
    schemas = [
        {"type": "object", "properties": {"kind": {"enum": ["software", "travel"]}}, "required": ["kind"],
         "additionalProperties": False},
        {"type": "object", "properties": {"ok": {"type": "boolean"}, "n": {"enum": [1, 2, 3]}},
         "required": ["ok", "n"], "additionalProperties": False},
    ]
    adapters = ("__base__", engine.adapter_for("alpha"), engine.adapter_for("beta"))
    cases = [(schema, adapter, seed) for schema in schemas for adapter in adapters for seed in (1, 2)]
    reqs = [GenRequest(ids, adapter=adapter, temperature=1.0, seed=seed, max_tokens=30,
                       constraint=engine.grammars.row(schema)) for schema, adapter, seed in cases]
    for (schema, _, _), (text, reason, n) in zip(cases, run_all(engine, reqs)):
        value = json.loads(text)
        assert reason == "stop" and set(value) == set(schema["required"]), text
        for key, spec in schema["properties"].items():
            assert value[key] in spec.get("enum", [True, False]), text


def test_json_object_mode_gives_an_object(engine):
    import json

    ids = encode_prompt(engine.tokenizer, PROMPTS[1])
    for seed in range(3):
        text, reason, n = run_all(engine, [GenRequest(ids, temperature=0.7, seed=seed, max_tokens=60,
                                                      constraint=engine.grammars.row(None))])[0]
        if reason == "stop":  # a length cut may leave the object open, as in OpenAI's API
            assert isinstance(json.loads(text), dict), text
        else:
            assert (reason, n) == ("length", 60)


def test_logprobs_are_the_models_own_log_softmax(engine, tiny_model_dir):
    import torch

    from tuneforge.models.load import load_model

    model = load_model(tiny_model_dir)
    ids = encode_prompt(engine.tokenizer, PROMPTS[2])
    (text, reason, n), = run_all(engine, [GenRequest(ids, temperature=0, max_tokens=4, logprobs=3)])
    entries = engine_entries[-1]
    expected, context = [], list(ids)
    with torch.inference_mode():
        for _ in range(len(entries)):
            logprobs = torch.log_softmax(model(torch.tensor([context])).logits[0, -1].float(), -1)
            top = torch.topk(logprobs, 3)
            tok = int(top.indices[0])
            expected.append((float(logprobs[tok]), [float(v) for v in top.values],
                             list(engine.grammars.token_bytes(tok))))
            context.append(tok)
    assert len(entries) == n > 0
    for entry, (lp, top, raw) in zip(entries, expected):
        assert entry["logprob"] == pytest.approx(lp, abs=1e-4) and entry["bytes"] == raw
        assert [t["logprob"] for t in entry["top_logprobs"]] == pytest.approx(top, abs=1e-4)
    assert "".join(bytes(e["bytes"]).decode("utf-8", "replace") for e in entries).strip() == text.strip()


def _greedy_top_logprobs(model, prompt_ids: list[int], steps: int, k: int) -> list[list[float]]:
    """The top-k logprobs at each of `steps` greedy steps from the prompt alone (no batch company)."""
    import torch

    out, context = [], list(prompt_ids)
    with torch.inference_mode():
        for _ in range(steps):
            logprobs = torch.log_softmax(model(torch.tensor([context])).logits[0, -1].float(), -1)
            top = torch.topk(logprobs, k)
            out.append([float(v) for v in top.values])
            context.append(int(top.indices[0]))
    return out


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
    from tuneforge.chat_encoding import common_prefix_len
    from tuneforge.serve.engine import MIN_PREFILL_PREFIX

    assert common_prefix_len(ids) >= MIN_PREFILL_PREFIX  # the shared-prefix path is the one under test
    model = load_model(tiny_model_dir)
    expected = [g.text for g in generate_batch(model, tok, prompts, 10)]
    got = run_all(engine, [GenRequest(i, max_tokens=10, temperature=0, logprobs=3) for i in ids])
    assert [text.strip() for text, _, _ in got] == expected
    # The tiny model's answers are alike whatever the input, so the first token's distribution is the check that
    # each row read its own user text after the shared part (a wrong split would give every row row 0's).
    for prompt_ids, entries in zip(ids, engine_entries):
        assert entries
        assert [t["logprob"] for t in entries[0]["top_logprobs"]] == pytest.approx(
            _greedy_top_logprobs(model, prompt_ids, 1, 3)[0], abs=1e-4)
    # Marked as a shared prefix, the system prompt's cache is kept and reused by later batches.
    system_len = len(tok(tok.apply_chat_template([system], tokenize=False), add_special_tokens=False)["input_ids"])
    assert ids[0][:system_len] == ids[1][:system_len]
    engine._prefixes.clear()
    for i, prompt_ids in enumerate(ids):
        (text, _, _), = run_all(engine, [GenRequest(prompt_ids, max_tokens=10, temperature=0, prefix_len=system_len,
                                                    logprobs=3)])
        assert text.strip() == expected[i]
        assert [t["logprob"] for t in engine_entries[0][0]["top_logprobs"]] == pytest.approx(
            _greedy_top_logprobs(model, prompt_ids, 1, 3)[0], abs=1e-4)
    assert len(engine._prefixes) == 1


def test_a_cached_system_prompt_is_kept_per_adapter(engine, tiny_model_dir, tiny_variants):
    """Two variants with the same system prompt have different caches of it: one's must never serve the other."""
    from peft import PeftModel

    from tuneforge.models.load import load_model

    system = {"role": "system", "content": "categorise the supplier invoice line into one ledger category"}
    tok = engine.tokenizer
    ids = encode_prompt(tok, [system, {"role": "user", "content": "dell laptop"}])
    system_len = len(tok(tok.apply_chat_template([system], tokenize=False), add_special_tokens=False)["input_ids"])
    engine._prefixes.clear()
    for name in ("alpha", "beta"):
        run_all(engine, [GenRequest(ids, adapter=engine.adapter_for(name), max_tokens=2, temperature=0,
                                    prefix_len=system_len, logprobs=3)])
        model = PeftModel.from_pretrained(load_model(tiny_model_dir), str(tiny_variants[name]))
        assert [t["logprob"] for t in engine_entries[0][0]["top_logprobs"]] == pytest.approx(
            _greedy_top_logprobs(model, ids, 1, 3)[0], abs=1e-4), name
    assert len(engine._prefixes) == 2


def test_logprobs_under_a_grammar_are_the_models_own(engine, tiny_model_dir):
    """The grammar chooses the token; the logprobs reported are still the model's, before the mask (vLLM's
    default), not a distribution renormalised over the tokens the grammar allows."""
    from tuneforge.models.load import load_model

    ids = encode_prompt(engine.tokenizer, PROMPTS[2])
    run_all(engine, [GenRequest(ids, temperature=0, max_tokens=3, logprobs=3, constraint=engine.grammars.row(None))])
    expected = _greedy_top_logprobs(load_model(tiny_model_dir), ids, 1, 3)[0]
    entry = engine_entries[0][0]
    assert [t["logprob"] for t in entry["top_logprobs"]] == pytest.approx(expected, abs=1e-4)
    assert entry["logprob"] <= expected[0] + 1e-4 and entry["logprob"] < -1e-3


def test_logprobs_stop_where_a_stop_string_cuts_the_answer(engine):
    ids = encode_prompt(engine.tokenizer, PROMPTS[1])
    # Seeded draws: the base model's greedy answer is newlines only, which no stop string can cut in the middle.
    run_all(engine, [GenRequest(ids, temperature=1.0, seed=3, max_tokens=8, logprobs=0)])
    tokens = [bytes(e["bytes"]).decode("utf-8", "replace") for e in engine_entries[0]]
    # A stop string that is exactly token i's text and not found earlier cuts the answer at token i's start.
    i = next(i for i in range(2, len(tokens)) if tokens[i].strip() and tokens[i] not in "".join(tokens[:i + 1])[:-1])
    (text, reason, _), = run_all(engine, [GenRequest(ids, temperature=1.0, seed=3, max_tokens=8, logprobs=0,
                                                     stop=[tokens[i]])])
    assert (text, reason) == ("".join(tokens[:i]), "stop")
    assert [bytes(e["bytes"]).decode("utf-8", "replace") for e in engine_entries[0]] == tokens[:i]


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
    first: list = []
    second: list = []
    done = threading.Semaphore(0)
    short = GenRequest(encode_prompt(tok, short_prompt), max_tokens=8, temperature=0, logprobs=3)
    short_entries: list[dict] = []

    def sink(parts, on_first_delta=None, entries=None):
        def on_event(kind, *args):
            if kind == "delta":
                if on_first_delta and not parts:
                    on_first_delta()
                parts.append(args[0])
                if entries is not None:
                    entries.extend(args[1])
            else:
                done.release()
        return on_event

    short.on_event = sink(second, entries=short_entries)
    before = engine.joined
    # The second request is queued from inside the first one's first delta, on the engine's own thread, so it is
    # waiting when the engine next looks at the queue, mid-decode: no race with thread timing.
    engine.submit(GenRequest(encode_prompt(tok, long_prompt), adapter=engine.adapter_for("beta"), max_tokens=40,
                             temperature=0, on_event=sink(first, lambda: engine.submit(short))))
    assert done.acquire(timeout=60) and done.acquire(timeout=60)
    assert "".join(first).strip() == expected_long
    assert "".join(second).strip() == expected_short
    assert engine.joined == before + 1
    # The base model answers newlines whatever the prompt, so the text cannot tell whether the joined row read its
    # own cache; its logprobs at every step, against the model's own on its prompt alone, can.
    with model.disable_adapter():
        expected_steps = _greedy_top_logprobs(model, short.prompt_ids, len(short_entries), 3)
    assert len(short_entries) == 8
    for entry, top in zip(short_entries, expected_steps):
        assert [t["logprob"] for t in entry["top_logprobs"]] == pytest.approx(top, abs=1e-4)


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


@pytest.mark.parametrize("temperature, top_p", [(1e-300, 1.0), (1.0, 5e-324), (2.0, 1e-45)])
def test_extreme_sampling_values_still_give_a_token(temperature, top_p):
    import torch

    from tuneforge.serve.sampling import sample_row

    logits = torch.randn(50)
    tok = sample_row(logits, temperature, top_p, torch.Generator().manual_seed(0))
    assert tok == int(torch.argmax(logits))
