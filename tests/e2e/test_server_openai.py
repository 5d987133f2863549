"""The server as users run it: a real `tuneforge serve` process, driven by the official openai client.

One server holds a registered variant (alpha:1, in production), a run folder (beta) and their shared base, and
must answer each with that model's own greedy output, computed here in-process as the reference.
"""

from __future__ import annotations

import json
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import httpx
import openai
import pytest
from conftest import SYSTEM, run_cli, serve_env, served

MAX_TOKENS = 12


@pytest.fixture(scope="module")
def server(tiny_variants, tiny_model_dir, tmp_path_factory):
    home = tmp_path_factory.mktemp("server-home")
    env = serve_env(home)
    key = run_cli(env, "keys", "create", "tests").strip()
    run_cli(env, "models", "register", str(tiny_variants["alpha"]), "--name", "alpha")
    run_cli(env, "models", "promote", "alpha:1", "--skip-gate")
    with served(home, "--model", "alpha:1", "--model", str(tiny_variants["beta"]), "--max-body-bytes", "20000",
                "--max-queue", "8", "--redact-pii") as (_, url):
        yield SimpleNamespace(url=url, key=key, home=home, env=env, base_id=Path(tiny_model_dir).name,
                              client=openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0, timeout=60))


@pytest.fixture(scope="module")
def references(tiny_variants, tiny_model_dir):
    """Greedy answers of each model loaded on its own (no server, no batching with others)."""
    from peft import PeftModel

    from tuneforge.eval.generate import generate_batch
    from tuneforge.models.load import load_model, load_tokenizer

    tok = load_tokenizer(tiny_model_dir)
    prompt = [{"role": "user", "content": "dell laptop"}]
    with_system = [{"role": "system", "content": SYSTEM}] + prompt
    out = {"base": generate_batch(load_model(tiny_model_dir), tok, [prompt], MAX_TOKENS)[0].text}
    for name, messages in (("alpha", with_system), ("beta", prompt)):
        model = PeftModel.from_pretrained(load_model(tiny_model_dir), str(tiny_variants[name]))
        out[name] = generate_batch(model, tok, [messages], MAX_TOKENS)[0].text
    return out


def _chat(client, model, **kw):
    args = dict(model=model, messages=[{"role": "user", "content": "dell laptop"}], temperature=0, max_tokens=MAX_TOKENS)
    args.update(kw)
    return client.chat.completions.create(**args)


def test_lists_served_models(server):
    ids = {m.id for m in server.client.models.list().data}
    assert ids == {"alpha:1", "beta", server.base_id}
    assert server.client.models.retrieve("beta").owned_by == "tuneforge"


def test_two_variants_and_base_answer_each_with_own_behaviour(server, references):
    assert len(set(references.values())) == 3, references  # the three models do differ
    names = {"alpha:1": "alpha", "beta": "beta", server.base_id: "base"}
    # Sent together, so the engine batches the three models into the same forward passes.
    with ThreadPoolExecutor(6) as pool:
        answers = dict(zip(list(names) * 2, pool.map(lambda m: _chat(server.client, m), list(names) * 2)))
    for model, ref_name in names.items():
        assert answers[model].choices[0].message.content.strip() == references[ref_name], model
        assert answers[model].model == model
    # Registry references resolve to the loaded version; alpha got its trained system prompt added.
    for alias in ("alpha", "alpha@production"):
        assert _chat(server.client, alias).choices[0].message.content.strip() == references["alpha"]


def test_streaming_gives_the_same_answer_with_usage(server):
    full = _chat(server.client, "beta")
    stream = _chat(server.client, "beta", stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == full.choices[0].message.content
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == full.choices[0].finish_reason
    assert chunks[-1].usage.completion_tokens == full.usage.completion_tokens > 0
    assert chunks[0].choices[0].delta.role == "assistant"


def test_json_mode_answers_parse(server):
    for model in ("beta", "alpha"):
        r = _chat(server.client, model, max_tokens=60, response_format={"type": "json_object"},
                  messages=[{"role": "user", "content": "dell laptop as JSON"}])
        choice = r.choices[0]
        if choice.finish_reason == "stop":  # a length cut may leave the object open, as with OpenAI
            assert isinstance(json.loads(choice.message.content), dict), choice.message.content
        else:
            assert choice.message.content.startswith("{")


def test_json_schema_answers_follow_the_schema(server):
    schema = {"type": "object", "properties": {"category": {"enum": ["software", "travel", "hardware"]},
                                               "confident": {"type": "boolean"}},
              "required": ["category", "confident"], "additionalProperties": False}
    fmt = {"type": "json_schema", "json_schema": {"name": "invoice_line", "schema": schema, "strict": True}}
    for model, seed in (("beta", 1), ("alpha", 2), ("alpha:1", 3)):
        r = _chat(server.client, model, max_tokens=40, temperature=1.0, seed=seed, response_format=fmt)
        value = json.loads(r.choices[0].message.content)
        assert set(value) == {"category", "confident"} and value["category"] in schema["properties"]["category"]["enum"]
        assert r.choices[0].finish_reason == "stop"


def test_logprobs_and_top_logprobs_through_the_official_client(server):
    r = _chat(server.client, "beta", logprobs=True, top_logprobs=3)
    content = r.choices[0].logprobs.content
    assert len(content) == r.usage.completion_tokens > 0
    assert all(t.logprob <= 0 and len(t.top_logprobs) == 3 and t.top_logprobs[0].logprob >= t.logprob - 1e-6
               for t in content)
    assert bytes(b for t in content for b in t.bytes).decode("utf-8", "replace") == r.choices[0].message.content
    stream = _chat(server.client, "beta", logprobs=True, top_logprobs=3, stream=True)
    streamed = [t for c in stream for ch in c.choices if ch.logprobs for t in ch.logprobs.content]
    assert [(t.token, t.logprob) for t in streamed] == [(t.token, t.logprob) for t in content]
    done = server.client.completions.create(model="beta", prompt="the quick brown", max_tokens=4, temperature=0,
                                            logprobs=2)
    lp = done.choices[0].logprobs
    assert len(lp.tokens) == len(lp.token_logprobs) == len(lp.top_logprobs) > 0
    assert "".join(lp.tokens) == done.choices[0].text


def test_unhonoured_parameters_are_refused_not_ignored(server):
    tool = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}}
    for kwargs, param in (({"tools": [tool]}, "tools"), ({"presence_penalty": 1.0}, "presence_penalty"),
                          ({"extra_body": {"repetition_penalty": 1.2}}, "repetition_penalty")):
        with pytest.raises(openai.BadRequestError) as e:
            _chat(server.client, "beta", **kwargs)
        assert e.value.body["param"] == param
    metrics = httpx.get(server.url + "/metrics", headers={"Authorization": f"Bearer {server.key}"}).text
    assert 'tuneforge_errors_total{status="400"}' in metrics


def test_sampling_seed_n_stop_and_length(server, references):
    a = _chat(server.client, "beta", temperature=1.0, top_p=0.9, seed=7, n=2)
    b = _chat(server.client, "beta", temperature=1.0, top_p=0.9, seed=7, n=2)
    assert [c.message.content for c in a.choices] == [c.message.content for c in b.choices]
    assert [c.index for c in a.choices] == [0, 1]
    assert a.usage.completion_tokens > 0
    short = _chat(server.client, "beta", max_tokens=3)
    assert short.choices[0].finish_reason == "length" and short.usage.completion_tokens == 3
    answer = _chat(server.client, "beta").choices[0].message.content
    assert len(answer) >= 4, answer
    stop = answer[2:4]
    stopped = _chat(server.client, "beta", stop=[stop])
    assert stopped.choices[0].message.content == answer[: answer.find(stop)]
    assert stopped.choices[0].finish_reason == "stop"


def test_completions_endpoint(server):
    r = server.client.completions.create(model="beta", prompt="the quick brown", max_tokens=5, temperature=0)
    assert r.object == "text_completion" and r.usage.prompt_tokens > 0
    assert r.choices[0].finish_reason in ("stop", "length") and r.usage.completion_tokens <= 5
    again = server.client.completions.create(model="beta", prompt="the quick brown", max_tokens=5, temperature=0)
    assert again.choices[0].text == r.choices[0].text


def test_errors_have_openai_shape_and_status(server):
    bad = openai.OpenAI(base_url=server.url + "/v1", api_key="tf-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as e:
        bad.models.list()
    assert e.value.status_code == 401 and e.value.body["code"] == "invalid_api_key"
    assert httpx.get(server.url + "/v1/models").status_code == 401  # no key at all
    with pytest.raises(openai.NotFoundError) as e:
        _chat(server.client, "no-such-model")
    assert e.value.body["code"] == "model_not_found"
    huge = {"model": "beta", "messages": [{"role": "user", "content": "x" * 50_000}]}
    r = httpx.post(server.url + "/v1/chat/completions", json=huge, headers={"Authorization": f"Bearer {server.key}"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "request_too_large"
    with pytest.raises(openai.BadRequestError) as e:
        _chat(server.client, "beta", temperature=5)
    assert e.value.body["param"] == "temperature"
    # More rows than the queue bound (8) at once: refused with 429 instead of queued without limit.
    with pytest.raises(openai.RateLimitError):
        _chat(server.client, "beta", n=9)


def test_revoked_key_is_refused(server):
    key = run_cli(server.env, "keys", "create", "short-lived").strip()
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=key, max_retries=0)
    assert client.models.list().data
    run_cli(server.env, "keys", "revoke", "short-lived")
    with pytest.raises(openai.AuthenticationError):
        client.models.list()


def test_traffic_log_stores_requests_with_pii_redacted(server):
    # Both variants are asked here, so the test stands alone (it does not rely on earlier tests' requests).
    _chat(server.client, "beta", messages=[{"role": "user", "content": "the beta traffic check"}])
    _chat(server.client, "alpha:1", messages=[{"role": "user", "content": "mail anna@example.com the dell invoice"}])
    deadline = time.time() + 10
    conn = sqlite3.connect(server.home / "traffic.db")
    while True:
        rows = conn.execute("SELECT variant, status, latency_ms, prompt_tokens, completion_tokens, request_json "
                            "FROM traffic WHERE request_json LIKE '%the dell invoice%'").fetchall()
        beta = conn.execute("SELECT 1 FROM traffic WHERE request_json LIKE '%the beta traffic check%'").fetchall()
        if (rows and beta) or time.time() > deadline:
            break
        time.sleep(0.2)
    assert rows, "request not logged"
    variant, status, latency, prompt_tokens, completion_tokens, request_json = rows[0]
    assert (variant, status) == ("alpha:1", 200) and latency > 0 and prompt_tokens > 0 and completion_tokens > 0
    assert "[EMAIL]" in request_json and "anna@example.com" not in request_json
    variants = {r[0] for r in conn.execute("SELECT variant FROM traffic")}
    assert {"alpha:1", "beta"} <= variants
