"""An extraction variant served by a real `tuneforge serve` process answers JSON with the keys it learned from its
training answers, by default: a plain chat request through the official openai client, no response_format,
gets an object valid against run.json's `data.answer_schema` (issue 9, item 4). The variant is the tiny
random-weight model after one epoch, so its free text is not JSON: the format comes from the server.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import openai
import pytest
from conftest import run_cli, serve_env, served

PROMPTS = ["Invoice 9 from Acme Ltd, 120 EUR", "Rechnung von Firma 3 GmbH", "hello"]


@pytest.fixture(scope="module")
def server(extraction_run, tmp_path_factory):
    home = tmp_path_factory.mktemp("extraction-home")
    key = run_cli(serve_env(home), "keys", "create", "tests").strip()
    run = json.loads((extraction_run / "run.json").read_text())
    with served(home, "--model", str(extraction_run)) as (_, url):
        yield SimpleNamespace(client=openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0, timeout=120),
                              model=extraction_run.name, schema=run["data"]["answer_schema"])


def _assert_follows(schema: dict, text: str) -> None:
    obj = json.loads(text)
    assert list(obj) == schema["keys"], text  # exactly the learned keys, in the learned order
    for k, kind in schema["key_types"].items():
        expected = {"string": str, "number": (int, float)}[kind]
        assert isinstance(obj[k], expected) and not isinstance(obj[k], bool), (k, text)


def test_a_plain_request_gets_json_with_the_learned_keys(server):
    assert server.schema["keys"] == ["supplier", "total", "currency"]
    for prompt in PROMPTS:
        done = server.client.chat.completions.create(model=server.model, temperature=0,
                                                     messages=[{"role": "user", "content": prompt}])
        assert done.choices[0].finish_reason == "stop", done.choices[0]
        _assert_follows(server.schema, done.choices[0].message.content)
    sampled = server.client.chat.completions.create(model=server.model, temperature=1.0, seed=4, n=3,
                                                    messages=[{"role": "user", "content": PROMPTS[0]}])
    for choice in sampled.choices:
        _assert_follows(server.schema, choice.message.content)
    streamed = server.client.chat.completions.create(model=server.model, temperature=0, stream=True,
                                                     messages=[{"role": "user", "content": PROMPTS[0]}])
    _assert_follows(server.schema, "".join(c.choices[0].delta.content or "" for c in streamed if c.choices))


def test_the_requests_own_format_wins(server):
    ask = [{"role": "user", "content": PROMPTS[0]}]
    free = server.client.chat.completions.create(model=server.model, messages=ask, temperature=0, max_tokens=24,
                                                 response_format={"type": "text"})
    default = server.client.chat.completions.create(model=server.model, messages=ask, temperature=0, max_tokens=24)
    assert free.choices[0].message.content != default.choices[0].message.content
    own = {"type": "object", "properties": {"zeta": {"type": "boolean"}, "alpha": {"type": "boolean"}},
           "required": ["zeta", "alpha"], "additionalProperties": False}
    done = server.client.chat.completions.create(
        model=server.model, messages=ask, temperature=0,
        response_format={"type": "json_schema", "json_schema": {"name": "own", "schema": own}})
    assert list(json.loads(done.choices[0].message.content)) == ["zeta", "alpha"]  # in the schema's order
