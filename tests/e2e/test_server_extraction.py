"""An extraction variant served by a real `tuneforge serve` process answers JSON with the keys it learned from its
training answers, by default: a plain chat request through the official openai client, no response_format,
gets an object valid against run.json's `data.answer_schema` (issue 9, item 4). The variant is the tiny
random-weight model after one epoch, so its free text is not JSON: the format comes from the server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from types import SimpleNamespace

import openai
import pytest
from conftest import free_port, run_cli, wait_until_healthy

PROMPTS = ["Invoice 9 from Acme Ltd, 120 EUR", "Rechnung von Firma 3 GmbH", "hello"]


@pytest.fixture(scope="module")
def server(extraction_run, tmp_path_factory):
    home = tmp_path_factory.mktemp("extraction-home")
    env = {**os.environ, "TUNEFORGE_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    key = run_cli(env, "keys", "create", "tests").strip()
    port = free_port()
    log_path = home / "server.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "tuneforge.cli.main", "serve", "--model", str(extraction_run),
                                 "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    wait_until_healthy(proc, url, log_path.read_text)
    run = json.loads((extraction_run / "run.json").read_text())
    yield SimpleNamespace(client=openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0, timeout=120),
                          model=extraction_run.name, schema=run["data"]["answer_schema"])
    proc.terminate()
    proc.wait(timeout=30)


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
