"""The HTTP layer on the tiny model: every request field is honoured or refused by name, bad input is a 400 in
OpenAI's shape (never a 500), /metrics counts, a hung-up client stops costing decode steps, and a
classification variant plugs in through `ServedModel.labeler`."""

from __future__ import annotations

import json
import math
import socket
import threading
import time

import pytest
from starlette.testclient import TestClient

from tuneforge.serve.app import create_app
from tuneforge.serve.catalog import Catalog, ServedModel
from tuneforge.serve.engine import Engine

CHAT = "/v1/chat/completions"
BASE = {"model": "tiny", "messages": [{"role": "user", "content": "dell laptop"}], "max_tokens": 4, "temperature": 0}


class Traffic:
    def __init__(self):
        self.entries: list[dict] = []

    def record(self, **entry):
        self.entries.append(entry)


@pytest.fixture(scope="module")
def served(tiny_model_dir):
    engine = Engine(tiny_model_dir, max_batch=8, max_queue=16, batch_wait_s=0.01)
    catalog = Catalog([ServedModel("tiny", "base", str(tiny_model_dir), None, None, 0, engine)], [engine])
    yield catalog
    catalog.close()


@pytest.fixture
def traffic():
    return Traffic()


@pytest.fixture
def client(served, traffic):
    return TestClient(create_app(served, traffic=traffic), raise_server_exceptions=False)


def _error(r, status: int, param: str | None) -> dict:
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"} and err["message"]
    assert err["param"] == param, err
    return err


@pytest.mark.parametrize("field, value, param", [
    ("tools", [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}], "tools"),
    ("tool_choice", "auto", "tool_choice"),
    ("functions", [{"name": "lookup"}], "functions"),
    ("presence_penalty", 0.5, "presence_penalty"),
    ("frequency_penalty", -1, "frequency_penalty"),
    ("logit_bias", {"42": 5}, "logit_bias"),
    ("reasoning_effort", "high", "reasoning_effort"),  # OpenAI parameters we do not declare: unrecognised
    ("audio", {"voice": "alloy"}, "audio"),
    ("made_up", 1, "made_up"),
    ("stream_options", {"include_usage": True}, "stream_options"),  # without stream it would do nothing
])
def test_unhonoured_fields_are_refused_by_name(client, field, value, param):
    err = _error(client.post(CHAT, json={**BASE, field: value}), 400, param)
    assert param in err["message"]


@pytest.mark.parametrize("field, value", [("echo", True), ("suffix", " and so on"), ("best_of", 3)])
def test_unhonoured_completion_fields_are_refused_by_name(client, field, value):
    body = {"model": "tiny", "prompt": "the quick", "max_tokens": 2, "temperature": 0}
    err = _error(client.post("/v1/completions", json={**body, field: value}), 400, field)
    assert field in err["message"]
    assert client.post("/v1/completions", json=body).status_code == 200


@pytest.mark.parametrize("messages, param", [
    ([{"role": "user", "content": "x"}, {"role": "tool", "content": "42", "tool_call_id": "c1"}], "messages.1.role"),
    ([{"role": "assistant", "content": None, "tool_calls": [{"id": "c1"}]}], "messages.0.tool_calls"),
    ([{"role": "user", "content": "x", "name": "anna"}], "messages.0.name"),
    ([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "http://x/y.png"}}]}], None),
])
def test_message_features_we_cannot_render_are_refused(client, messages, param):
    r = client.post(CHAT, json={**BASE, "messages": messages})
    assert r.status_code == 400, r.text
    if param:
        assert r.json()["error"]["param"] == param


def test_neutral_values_of_unimplemented_fields_and_harmless_fields_are_accepted(client):
    r = client.post(CHAT, json={**BASE, "presence_penalty": 0, "frequency_penalty": 0.0, "logit_bias": {},
                                "tool_choice": "none", "parallel_tool_calls": True, "user": "u1",
                                "metadata": {"team": "ap"}})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("raw, param", [
    ('{"model": "tiny", "messages": [{"role": "user", "content": "\\ud800"}]}', "messages.0.content"),
    ('{"model": "tiny\\udfff", "messages": [{"role": "user", "content": "x"}]}', "model"),
    ('{"model": "tiny", "seed": 1180591620717411303424, "messages": [{"role": "user", "content": "x"}]}', "seed"),
    ('{"model": "tiny", "max_tokens": ' + "9" * 5000 + ', "messages": [{"role": "user", "content": "x"}]}', None),
    ('{"model": "tiny", "temperature": NaN, "messages": [{"role": "user", "content": "x"}]}', "temperature"),
    ('{"model": "tiny", "messages": [{"role": "user", "content": "x"}], "top_logprobs": 3}', "top_logprobs"),
    ('{"model": "tiny", "messages": []}', "messages"),
    ('{"model": "tiny", "messages": [{"role": "user", "content": "x"}', None),
    ('[1, 2]', None),
])
def test_bad_input_is_a_400_and_the_connection_stays_open(served, raw, param):
    with TestClient(create_app(served), raise_server_exceptions=True) as c:
        r = c.post(CHAT, content=raw.encode(), headers={"content-type": "application/json"})
        _error(r, 400, param)
        assert r.headers.get("connection") != "close"
        assert c.post(CHAT, json=BASE).status_code == 200  # the same client goes on


def test_logprobs_are_returned_only_when_asked_and_in_openai_shape(client):
    plain = client.post(CHAT, json=BASE).json()["choices"][0]
    assert plain["logprobs"] is None
    asked = client.post(CHAT, json={**BASE, "logprobs": True, "top_logprobs": 3}).json()
    content = asked["choices"][0]["logprobs"]["content"]
    assert len(content) == asked["usage"]["completion_tokens"] > 0
    for entry in content:
        assert entry["logprob"] <= 0 and len(entry["top_logprobs"]) == 3
        assert entry["top_logprobs"][0]["logprob"] >= entry["logprob"] - 1e-6  # greedy: the best one was taken
        assert bytes(entry["bytes"]).decode("utf-8", "replace") == entry["token"]
    text = bytes(b for e in content for b in e["bytes"]).decode("utf-8", "replace")
    assert text == asked["choices"][0]["message"]["content"]
    completion = client.post("/v1/completions", json={"model": "tiny", "prompt": "the quick", "max_tokens": 3,
                                                      "temperature": 0, "logprobs": 2}).json()["choices"][0]
    lp = completion["logprobs"]
    assert len(lp["tokens"]) == len(lp["token_logprobs"]) == len(lp["top_logprobs"]) == len(lp["text_offset"]) > 0
    assert all(len(top) <= 2 for top in lp["top_logprobs"]) and lp["text_offset"][0] == 0


def test_n_sampled_choices_from_one_seed_differ_and_repeat(client):
    body = {**BASE, "max_tokens": 6, "temperature": 1.0, "seed": 5, "n": 4, "logprobs": True}

    def choices():
        return [tuple(e["token"] for e in c["logprobs"]["content"])
                for c in client.post(CHAT, json=body).json()["choices"]]

    first = choices()
    assert len(first) == 4 and all(len(tokens) == 6 for tokens in first)
    assert len(set(first)) == 4, first  # each choice its own draw, not one draw copied n times
    assert choices() == first  # and the seed makes the n draws reproducible


def test_usage_counts_the_prompt_once_and_every_choices_tokens(client):
    one = client.post(CHAT, json=BASE).json()["usage"]
    three = client.post(CHAT, json={**BASE, "temperature": 1.0, "seed": 5, "n": 3, "logprobs": True}).json()
    usage = three["usage"]
    assert usage["prompt_tokens"] == one["prompt_tokens"] > 0  # OpenAI counts a prompt once, whatever n is
    assert usage["completion_tokens"] == sum(len(c["logprobs"]["content"]) for c in three["choices"]) > 4
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_completion_text_offsets_advance_token_by_token_whole_and_streamed(client):
    body = {"model": "tiny", "prompt": "the quick", "max_tokens": 6, "temperature": 1.0, "seed": 5, "logprobs": 1}
    lp = client.post("/v1/completions", json=body).json()["choices"][0]["logprobs"]
    expected = [sum(len(t) for t in lp["tokens"][:i]) for i in range(len(lp["tokens"]))]
    assert len(expected) == 6 and expected[-1] > 0
    assert lp["text_offset"] == expected
    streamed = client.post("/v1/completions", json={**body, "stream": True}).text
    chunks = [json.loads(line[6:]) for line in streamed.splitlines() if line.startswith("data: {")]
    assert [o for c in chunks for ch in c["choices"] if ch.get("logprobs")
            for o in ch["logprobs"]["text_offset"]] == expected


def test_an_explicit_max_tokens_past_the_context_is_refused(client, served):
    context = served.resolve("tiny").engine.model.config.max_position_embeddings
    err = _error(client.post(CHAT, json={**BASE, "max_tokens": context}), 400, "max_tokens")
    assert err["code"] == "context_length_exceeded" and str(context) in err["message"]
    assert client.post(CHAT, json={k: v for k, v in BASE.items() if k != "max_tokens"}).status_code == 200


def test_label_sampling_follows_the_probabilities_at_the_temperature():
    import random

    from tuneforge.serve.labels import sample_label

    probs = {"hardware": 0.7, "software": 0.2, "travel": 0.1}
    rng = random.Random(0)
    for temperature in (1.0, 0.5, 2.0):
        draws = [sample_label(probs, temperature, 1.0, rng) for _ in range(4000)]
        weights = {k: p ** (1 / temperature) for k, p in probs.items()}
        expected = [w / sum(weights.values()) for w in weights.values()]
        # About 4 standard errors at 4,000 draws; seeded, so the same draw every run.
        assert [draws.count(k) / 4000 for k in probs] == pytest.approx(expected, abs=0.03), temperature


def test_streamed_logprobs_match_the_whole_answer(client):
    whole = client.post(CHAT, json={**BASE, "logprobs": True}).json()["choices"][0]["logprobs"]["content"]
    body = client.post(CHAT, json={**BASE, "logprobs": True, "stream": True}).text
    chunks = [json.loads(line[6:]) for line in body.splitlines() if line.startswith("data: {")]
    streamed = [e for c in chunks for ch in c["choices"] if ch.get("logprobs") for e in ch["logprobs"]["content"]]
    assert streamed == whole


def test_json_schema_is_enforced_and_a_bad_schema_is_a_400(client):
    schema = {"type": "object", "properties": {"category": {"enum": ["software", "travel", "hardware"]}},
              "required": ["category"], "additionalProperties": False}
    fmt = {"type": "json_schema", "json_schema": {"name": "invoice", "schema": schema, "strict": True}}
    for seed in (1, 2, 3):
        r = client.post(CHAT, json={**BASE, "max_tokens": 20, "temperature": 1, "seed": seed, "response_format": fmt})
        assert r.status_code == 200, r.text
        answer = json.loads(r.json()["choices"][0]["message"]["content"])
        assert answer["category"] in schema["properties"]["category"]["enum"]
    bad = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "no-such-type"}}}
    _error(client.post(CHAT, json={**BASE, "response_format": bad}), 400, "response_format.json_schema.schema")
    _error(client.post(CHAT, json={**BASE, "response_format": {"type": "json_schema"}}), 400, "response_format")


def test_metrics_count_requests_errors_and_tokens(client):
    client.post(CHAT, json=BASE)
    client.post(CHAT, json={**BASE, "bogus": 1})
    text = client.get("/metrics").text
    assert 'tuneforge_requests_total{route="/v1/chat/completions",status="200"}' in text
    assert 'tuneforge_errors_total{status="400"}' in text
    assert 'tuneforge_tokens_total{kind="completion",model="tiny"}' in text
    assert "tuneforge_queue_depth" in text and "tuneforge_request_latency_seconds_bucket" in text


def test_metrics_need_a_key_when_the_server_has_keys(served):
    class Keys:
        def verify(self, key):
            return key == "good"

    c = TestClient(create_app(served, keys=Keys()))
    assert c.get("/metrics").status_code == 401
    assert c.get("/metrics", headers={"Authorization": "Bearer good"}).status_code == 200


def test_an_abandoned_request_stops_decoding_and_is_logged_as_499(served, traffic):
    import uvicorn

    engine = served.engines[0]
    # The schema forces a very long answer, so only the hang-up can end it early.
    long_answer = {"type": "json_schema", "json_schema": {"name": "ones", "schema": {
        "type": "array", "items": {"const": 1}, "minItems": 5000}}}
    body = json.dumps({**BASE, "max_tokens": 400, "response_format": long_answer}).encode()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(served, traffic=traffic), port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.05)
        before = engine.tokens_generated
        conn = socket.create_connection(("127.0.0.1", port))
        conn.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        deadline = time.time() + 30
        while engine.tokens_generated - before < 5 and time.time() < deadline:
            time.sleep(0.005)
        conn.close()
        deadline = time.time() + 10
        while not any(e.get("status") == 499 for e in traffic.entries) and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        spent = engine.tokens_generated - before
        time.sleep(0.3)
        assert engine.tokens_generated - before == spent  # nothing decodes any more
        assert spent < 200, spent  # far from the 400 the request asked for
        logged = [e for e in traffic.entries if e.get("status") == 499]
        assert logged and "disconnected" in logged[0]["error"]
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_a_classification_variant_answers_through_its_labeler(served, tiny_model_dir):
    class Labeler:
        def label_probs(self, messages):
            assert messages[-1]["content"] == "dell laptop"
            return {"software": 0.2, "hardware": 0.7, "travel": 0.1}

    engine = served.engines[0]
    classifier = ServedModel("cls", "variant", str(tiny_model_dir), None, None, 0, engine, labeler=Labeler())
    import openai

    # The official client, over the in-process app (TestClient is an httpx.Client).
    client = openai.OpenAI(base_url="http://testserver/v1", api_key="unused", max_retries=0,
                           http_client=TestClient(create_app(Catalog([classifier], [engine]))))
    r = client.chat.completions.create(model="cls", messages=BASE["messages"], logprobs=True, top_logprobs=2)
    choice = r.choices[0]
    assert choice.message.content == "hardware" and choice.finish_reason == "stop"
    entry = choice.logprobs.content[0]
    assert entry.token == "hardware" and entry.logprob == pytest.approx(math.log(0.7))
    assert [t.token for t in entry.top_logprobs] == ["hardware", "software"]
    # Streamed: one content chunk carrying the label and its logprobs, then the finish.
    chunks = list(client.chat.completions.create(model="cls", messages=BASE["messages"], stream=True, logprobs=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "hardware"
    assert [e.token for c in chunks if c.choices[0].logprobs for e in c.choices[0].logprobs.content] == ["hardware"]
    assert chunks[-1].choices[0].finish_reason == "stop"
    # Sampling over labels: only when the request sets a temperature; reproducible with a seed; top_p cuts.
    def labels(**kw):
        return [c.message.content for c in client.chat.completions.create(
            model="cls", messages=BASE["messages"], n=16, **kw).choices]

    assert set(labels()) == {"hardware"}  # no temperature given: the classifier's answer, not OpenAI's default 1
    assert set(labels(temperature=0)) == {"hardware"}
    drawn = labels(temperature=1.5, seed=7)
    assert drawn == labels(temperature=1.5, seed=7) and len(set(drawn)) > 1, drawn
    assert set(labels(temperature=1.5, seed=7, top_p=0.5)) == {"hardware"}  # the nucleus holds the top label only
