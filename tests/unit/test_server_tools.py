"""Tool calls through the official openai client on the tiny model, given a Hermes-style chat template that
renders `tools` (the way Qwen's does): calls come back parsed in OpenAI's shape, a conversation with tool
results renders through the template, and a model whose template has no tools still gets a 400 naming `tools`.
Streamed calls (serve/tool_stream.py) must add up to what the non-streamed parser reads from the same text.

The tiny model's weights are random, so its calls are forced with tool_choice (the llguidance grammar); the
rendering, grammar and parsing path is the server's real one.
"""

from __future__ import annotations

import json

import openai
import pytest
from starlette.testclient import TestClient

from tuneforge.serve.app import create_app
from tuneforge.serve.catalog import Catalog, ServedModel
from tuneforge.serve.engine import Engine
from tuneforge.serve.tool_calls import template_supports_tools

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string", "enum": ["Paris", "Oslo"]}},
                   "required": ["city"], "additionalProperties": False}}}
RATE = {"type": "function", "function": {
    "name": "exchange_rate", "description": "Rate between two currencies",
    "parameters": {"type": "object", "properties": {"pair": {"type": "string", "enum": ["EUR/USD", "EUR/CHF"]}},
                   "required": ["pair"], "additionalProperties": False}}}
ASK = [{"role": "user", "content": "weather in paris?"}]


def _client(model_dir, name: str):
    engine = Engine(model_dir, max_batch=4, max_queue=8, batch_wait_s=0.0)
    catalog = Catalog([ServedModel(name, "base", str(model_dir), None, None, 0, engine)], [engine])
    http = TestClient(create_app(catalog), raise_server_exceptions=False)
    return catalog, http, openai.OpenAI(base_url=str(http.base_url) + "/v1", api_key="none", http_client=http,
                                        max_retries=0)


@pytest.fixture(scope="module")
def tools_server(tools_model_dir):
    catalog, http, client = _client(tools_model_dir, "tiny-tools")
    yield client
    catalog.close()


@pytest.fixture(scope="module")
def plain_server(tiny_model_dir):
    catalog, http, client = _client(tiny_model_dir, "tiny")
    yield client
    catalog.close()


def test_support_is_read_from_the_template(tools_server, tools_model_dir, tiny_model_dir):
    from transformers import AutoTokenizer

    assert template_supports_tools(AutoTokenizer.from_pretrained(tools_model_dir))
    assert not template_supports_tools(AutoTokenizer.from_pretrained(tiny_model_dir))


def test_the_openai_client_gets_a_named_tool_call_parsed(tools_server):
    done = tools_server.chat.completions.create(
        model="tiny-tools", messages=ASK, tools=[WEATHER, RATE], max_tokens=120, temperature=0,
        tool_choice={"type": "function", "function": {"name": "get_weather"}}, parallel_tool_calls=False)
    choice = done.choices[0]
    assert choice.finish_reason == "tool_calls", choice
    assert choice.message.content is None
    (call,) = choice.message.tool_calls
    assert call.type == "function" and call.id.startswith("call_")
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments)["city"] in ("Paris", "Oslo")


def test_required_lets_the_model_pick_among_the_tools(tools_server):
    done = tools_server.chat.completions.create(model="tiny-tools", messages=ASK, tools=[WEATHER, RATE],
                                                tool_choice="required", max_tokens=120, temperature=1.0, seed=3, n=3)
    for choice in done.choices:
        assert choice.finish_reason == "tool_calls"
        (call,) = choice.message.tool_calls
        args = json.loads(call.function.arguments)
        assert (call.function.name, set(args)) in (("get_weather", {"city"}), ("exchange_rate", {"pair"}))


def test_tool_choice_none_and_auto_answer_in_text(tools_server):
    for tool_choice in ("none", "auto"):
        done = tools_server.chat.completions.create(model="tiny-tools", messages=ASK, tools=[WEATHER],
                                                    tool_choice=tool_choice, max_tokens=4, temperature=0)
        # Random weights write no <tool_call>: the text comes back as content.
        assert done.choices[0].message.tool_calls is None
        assert done.choices[0].finish_reason in ("stop", "length")


def test_a_conversation_with_tool_results_renders_through_the_template(tools_server, tools_model_dir):
    from transformers import AutoTokenizer

    history = ASK + [
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "18 C and sunny"},
    ]
    done = tools_server.chat.completions.create(model="tiny-tools", messages=history, tools=[WEATHER],
                                                max_tokens=2, temperature=0)
    tok = AutoTokenizer.from_pretrained(tools_model_dir)
    expected_history = ASK + [
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "18 C and sunny"},
    ]
    text = tok.apply_chat_template(expected_history, tools=[WEATHER], tokenize=False, add_generation_prompt=True)
    assert '{"name": "get_weather", "arguments": {"city": "Paris"}}' in text and "18 C and sunny" in text
    assert done.usage.prompt_tokens == len(tok(text, add_special_tokens=False)["input_ids"])


@pytest.mark.parametrize("kwargs, param", [
    ({"tool_choice": {"type": "function", "function": {"name": "nope"}}}, "tool_choice.function.name"),
    ({"tool_choice": "sometimes"}, "tool_choice"),
    ({"parallel_tool_calls": False}, "parallel_tool_calls"),  # "auto" could write several calls
    ({"tools": [{"type": "function", "function": {"description": "no name"}}]}, "tools.0.function.name"),
    ({"messages": ASK + [{"role": "assistant", "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{not json"}}]}]},
     "messages.1.tool_calls.0.function.arguments"),
])
def test_tool_requests_we_cannot_honour_are_a_400_naming_the_parameter(tools_server, kwargs, param):
    with pytest.raises(openai.BadRequestError) as e:
        tools_server.chat.completions.create(**{"model": "tiny-tools", "messages": ASK, "tools": [WEATHER],
                                                "max_tokens": 4, **kwargs})
    assert e.value.body["param"] == param


def test_a_model_without_tool_support_still_refuses_tools(plain_server):
    with pytest.raises(openai.BadRequestError) as e:
        plain_server.chat.completions.create(model="tiny", messages=ASK, tools=[WEATHER], max_tokens=4)
    assert e.value.body["param"] == "tools"
    assert "no tool support" in e.value.body["message"]


def test_calls_written_in_the_answer_are_parsed_and_a_cut_call_stays_text(tools_model_dir):
    """tool_choice "auto": whatever the model writes goes through the same parser (a trained model's output,
    written here since random weights write no calls)."""
    from types import SimpleNamespace

    from transformers import AutoTokenizer

    from tuneforge.serve.tool_calls import plan_tools

    served = SimpleNamespace(engine=SimpleNamespace(tokenizer=AutoTokenizer.from_pretrained(tools_model_dir)))
    body = SimpleNamespace(tools=[WEATHER, RATE], tool_choice="auto", structured=False)
    plan = plan_tools(body, served, list(ASK))
    assert plan.grammar is None and "<tools>" in plan.prompt_text

    def answer(text, finish="stop"):
        return plan.shape({"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish})

    two = answer('Checking both.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>\n'
                 '<tool_call>\n{"name": "exchange_rate", "arguments": {"pair": "EUR/CHF"}}\n</tool_call>')
    assert two["finish_reason"] == "tool_calls" and two["message"]["content"] == "Checking both."
    assert [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in two["message"]["tool_calls"]] \
        == [("get_weather", {"city": "Oslo"}), ("exchange_rate", {"pair": "EUR/CHF"})]
    assert len({c["id"] for c in two["message"]["tool_calls"]}) == 2
    cut = answer('<tool_call>\n{"name": "get_weather", "argu', "length")
    assert cut["finish_reason"] == "length" and "tool_calls" not in cut["message"]
    assert answer("It is sunny.")["message"] == {"role": "assistant", "content": "It is sunny."}


def _streamed(text: str, piece: int) -> dict:
    """Feed `text` to a ToolCallStream `piece` characters at a time; add its deltas up the way a client does."""
    from tuneforge.serve.tool_stream import ToolCallStream

    stream, content, calls = ToolCallStream(), None, []
    deltas = [d for i in range(0, len(text), piece) for d in stream.feed(text[i:i + piece])] + stream.close()
    for d in deltas:
        if "content" in d:
            content = (content or "") + d["content"]
        for part in d.get("tool_calls", []):
            if part["index"] == len(calls):  # a new call: its first delta carries id, type and name
                assert part["id"].startswith("call_") and part["type"] == "function"
                calls.append({"name": part["function"]["name"], "arguments": part["function"]["arguments"]})
            else:
                assert set(part) == {"index", "function"} and set(part["function"]) == {"arguments"}
                calls[part["index"]]["arguments"] += part["function"]["arguments"]
    return {"content": content, "calls": calls, "deltas": len(deltas)}


@pytest.mark.parametrize("text", [
    'Checking both.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>\n'
    '<tool_call>\n{"name": "exchange_rate", "arguments": {"pair": "EUR/CHF"}}\n</tool_call>',
    '<tool_call>\n{"name":"get_weather","arguments":{"city":"a \\"}\\" {[","n":[1,{"x":null}]}}'
    '\n</tool_call>',
    '<tool_call>\n{"arguments": {"city": "Paris"}, "name": "get_weather"}\n</tool_call>',  # other key order
    '<tool_call>\n{"name": "get_weather", "arguments": "{\\"city\\": \\"Oslo\\"}"}\n</tool_call>',  # as a string
    "It is sunny. <tool_ maybe later",
    'text\n<tool_call>\n{not json}\n</tool_call> more',
    "plain text answer with < and > signs  ",
])
def test_streamed_calls_add_up_to_the_whole_answer_parse(tools_model_dir, text):
    from types import SimpleNamespace

    from transformers import AutoTokenizer

    from tuneforge.serve.tool_calls import plan_tools

    served = SimpleNamespace(engine=SimpleNamespace(tokenizer=AutoTokenizer.from_pretrained(tools_model_dir)))
    plan = plan_tools(SimpleNamespace(tools=[WEATHER, RATE], tool_choice="auto", structured=False), served, list(ASK))
    whole = plan.shape({"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"})
    expected_calls = [{"name": c["function"]["name"], "arguments": json.loads(c["function"]["arguments"])}
                      for c in whole["message"].get("tool_calls", [])]
    for piece in (1, 2, 3, 7, len(text)):
        got = _streamed(text, piece)
        assert got["content"] == whole["message"]["content"], (piece, got)
        assert [{**c, "arguments": json.loads(c["arguments"])} for c in got["calls"]] == expected_calls, piece
    if expected_calls and '{"arguments"' not in text and '"arguments": "' not in text:  # in pieces, not in one go
        assert _streamed(text, 1)["deltas"] > 2 * len(expected_calls) + 2


def test_a_streamed_call_cut_by_max_tokens_keeps_what_was_written():
    got = _streamed('<tool_call>\n{"name": "get_weather", "arguments": {"ci', 2)
    assert got["calls"] == [{"name": "get_weather", "arguments": '{"ci'}]
    assert _streamed('text <tool_call>\n{"na', 3)["content"] == 'text <tool_call>\n{"na'


@pytest.mark.parametrize("name", ["get_weather", "exchange_rate"])
def test_a_named_tool_choice_calls_that_tool(tools_server, name):
    # Both names in turn: whichever tool the model would pick freely, naming the other must still call it.
    done = tools_server.chat.completions.create(model="tiny-tools", messages=ASK, tools=[WEATHER, RATE],
                                                max_tokens=120, temperature=0,
                                                tool_choice={"type": "function", "function": {"name": name}})
    assert [c.function.name for c in done.choices[0].message.tool_calls] == [name]


def test_streamed_tool_calls_of_several_choices_stay_apart(tools_server):
    ask = dict(model="tiny-tools", messages=ASK, tools=[WEATHER, RATE], tool_choice="required", max_tokens=120,
               temperature=1.0, seed=5, n=2)
    whole = tools_server.chat.completions.create(**ask)
    parts: dict[int, list] = {0: [], 1: []}
    finish = {}
    for chunk in tools_server.chat.completions.create(**ask, stream=True):
        for choice in chunk.choices:
            parts[choice.index] += choice.delta.tool_calls or []
            if choice.finish_reason:
                finish[choice.index] = choice.finish_reason
    assert finish == {0: "tool_calls", 1: "tool_calls"}
    for k, choice in enumerate(whole.choices):
        (call,) = choice.message.tool_calls
        assert [p.index for p in parts[k] if p.id] == [0] and all(p.index == 0 for p in parts[k])
        assert "".join(p.function.name or "" for p in parts[k]) == call.function.name
        assert json.loads("".join(p.function.arguments or "" for p in parts[k])) == json.loads(call.function.arguments)


def test_tool_history_lines_up_after_a_variants_own_system_prompt():
    from types import SimpleNamespace

    from tuneforge.serve.prompting import chat_messages
    from tuneforge.serve.schemas import ChatCompletionRequest

    call = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
    body = ChatCompletionRequest(model="m", messages=ASK + [
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": "18 C"}])
    out = chat_messages(body, SimpleNamespace(system_prompt="Be brief."))
    assert [m["role"] for m in out] == ["system", "user", "assistant", "tool"]
    assert "tool_calls" not in out[1] and out[2]["tool_calls"][0]["function"]["arguments"] == {"city": "Paris"}
    assert out[3]["tool_call_id"] == "call_1" and "tool_call_id" not in out[2]


def test_offered_tools_lift_a_variants_learned_answer_format():
    """An extraction variant answers in its learned JSON by default, but with tools on offer it must be free to
    call one (or to answer in text)."""
    from types import SimpleNamespace

    from tuneforge.serve.answer_format import default_answer_format

    served = SimpleNamespace(answer_format=object())
    assert default_answer_format(SimpleNamespace(response_format=None), served, None) is served.answer_format
    assert default_answer_format(SimpleNamespace(response_format=None), served, object()) is None
