"""Streamed tool calls as users get them: a real `tuneforge serve` process, the official openai client's streaming
API, OpenAI's chunk shape (`delta.tool_calls` with index, id, type, name, then the arguments in pieces) and a
final `finish_reason: "tool_calls"`.

The model is the tiny one with a Hermes tool template (tests/conftest.py); its weights are random, so its call
is forced with tool_choice (the llguidance grammar), and the streamed call must equal the non-streamed one.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import openai
import pytest
from conftest import run_cli, serve_env, served

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string", "enum": ["Paris", "Oslo"]},
                                                    "days": {"type": "integer", "minimum": 1, "maximum": 3}},
                   "required": ["city", "days"], "additionalProperties": False}}}
ASK = [{"role": "user", "content": "weather in paris for two days?"}]
FORCED = {"type": "function", "function": {"name": "get_weather"}}


@pytest.fixture(scope="module")
def server(tools_model_dir, tmp_path_factory):
    home = tmp_path_factory.mktemp("tool-stream-home")
    key = run_cli(serve_env(home), "keys", "create", "tests").strip()
    with served(home, "--model", str(tools_model_dir)) as (_, url):
        yield SimpleNamespace(client=openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0, timeout=60),
                              model=tools_model_dir.name)


def test_a_streamed_call_arrives_as_tool_call_deltas(server):
    args = dict(model=server.model, messages=ASK, tools=[WEATHER], tool_choice=FORCED, max_tokens=120,
                temperature=0)
    whole = server.client.chat.completions.create(**args).choices[0]
    chunks = list(server.client.chat.completions.create(**args, stream=True, logprobs=True,
                                                        stream_options={"include_usage": True}))
    parts = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    first, rest = parts[0], parts[1:]
    assert first.index == 0 and first.id.startswith("call_") and first.type == "function"
    assert first.function.name == "get_weather" and first.function.arguments == ""
    assert len(rest) > 2, "the arguments must arrive in pieces as they are written"
    assert all(p.index == 0 and p.id is None and p.function.name is None for p in rest)
    arguments = "".join(p.function.arguments for p in rest)
    (expected,) = whole.message.tool_calls
    assert json.loads(arguments) == json.loads(expected.function.arguments)
    assert set(json.loads(arguments)) == {"city", "days"}
    assert not any(c.choices and c.choices[0].delta.content for c in chunks)  # the tags are not content
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["tool_calls"] == [whole.finish_reason]
    tokens = sum(len(c.choices[0].logprobs.content) for c in chunks if c.choices and c.choices[0].logprobs)
    assert tokens == chunks[-1].usage.completion_tokens  # every token's logprob is still sent


def test_the_clients_stream_helper_assembles_the_call(server):
    with server.client.chat.completions.stream(model=server.model, messages=ASK, tools=[WEATHER],
                                               tool_choice="required", max_tokens=120, temperature=0) as stream:
        deltas = [e.arguments_delta for e in stream if e.type == "tool_calls.function.arguments.delta"]
        final = stream.get_final_completion().choices[0]
    (call,) = final.message.tool_calls
    assert final.finish_reason == "tool_calls" and call.function.name == "get_weather"
    assert "".join(deltas) == call.function.arguments and json.loads(call.function.arguments)["city"]


def test_a_streamed_text_answer_with_tools_offered_is_plain_content(server):
    args = dict(model=server.model, messages=ASK, tools=[WEATHER], max_tokens=6, temperature=0)
    whole = server.client.chat.completions.create(**args).choices[0]
    chunks = list(server.client.chat.completions.create(**args, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == whole.message.content
    assert not any(c.choices[0].delta.tool_calls for c in chunks)
    assert chunks[-1].choices[0].finish_reason == whole.finish_reason
