"""Tool calls (`tools`, `tool_choice`, assistant `tool_calls`, `tool` messages) for models whose chat template
supports them; a 400 naming the parameter for the others.

Support is read from the template itself: a template supports tools when rendering a conversation with a
`tools` list changes the prompt (SmolLM2's and the tiny test model's ignore it). The model's answer is parsed
by transformers' own response parser (`tokenizer.parse_response`) with the tokenizer's `response_template` when
it ships one, else with the Hermes convention (`<tool_call>{"name": ..., "arguments": {...}}</tool_call>`, used
by Qwen 2.5/3, Hermes and SmolLM3) when the template itself writes `<tool_call>`. A template that renders tools
in a convention we cannot parse is refused as well: a call we cannot read back would reach the client as text.

`tool_choice`: "auto" (the default with tools) renders the tools and parses calls; "none" answers in text (the
tools are left out of the prompt); "required" or a named function forces one Hermes call with an llguidance
grammar (the engine's response_format machinery), whose arguments follow the function's JSON schema.
`parallel_tool_calls: false` holds only there (one forced call); with "auto" nothing could keep the model to one
call, so it is refused rather than ignored.
Streamed, Hermes calls go out as OpenAI's `delta.tool_calls` as they are written (serve/tool_stream.py); a
template with its own response_template is parsed from the whole answer only, so streaming is refused there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from tuneforge.serve.errors import ApiError
from tuneforge.serve.tool_stream import HERMES_CLOSE, HERMES_OPEN, ToolCallStream, new_call_id

_PROBE_MESSAGES = [{"role": "user", "content": "probe"}]
_PROBE_TOOLS = [{"type": "function", "function": {
    "name": "tuneforge_probe", "description": "probe", "parameters": {"type": "object", "properties": {}}}}]
_support_cache: dict[str, bool] = {}


def template_supports_tools(tokenizer) -> bool:
    """Whether the chat template renders a `tools` list: the prompt changes when tools are passed."""
    from tuneforge.chat_encoding import render

    template = getattr(tokenizer, "chat_template", None)
    if not isinstance(template, str) or not template:
        return False
    if template not in _support_cache:
        try:
            with_tools = render(tokenizer, _PROBE_MESSAGES, add_generation_prompt=True, tools=_PROBE_TOOLS)
            _support_cache[template] = with_tools != render(tokenizer, _PROBE_MESSAGES, add_generation_prompt=True)
        except Exception:  # a template that fails on tools does not support them
            _support_cache[template] = False
    return _support_cache[template]


def _hermes_template(start_anchor: str) -> dict:
    """A transformers response_template for Hermes-style calls: JSON objects between <tool_call> tags."""
    return {
        "start_anchor": start_anchor,
        "defaults": {"role": "assistant"},
        "fields": {
            # \s* takes the newline between calls (or after text) so it does not open an empty text region.
            "tool_calls": {"open_pattern": r"\s*" + HERMES_OPEN, "close": HERMES_CLOSE, "repeats": True,
                           "content": "json", "transform": {"type": "function", "function": "{content}"}},
            "content": {"content": "text"},
        },
    }


def _response_template(tokenizer, prompt_text: str, header: str) -> tuple[dict | None, bool]:
    """(response template, whether it is the Hermes convention we can also force), or (None, False)."""
    own = getattr(tokenizer, "response_template", None)
    if own is not None:
        return own, False
    if HERMES_OPEN in tokenizer.chat_template:
        return _hermes_template(header or prompt_text or "\n"), True
    return None, False


def _unsupported(param: str, served, why: str) -> ApiError:
    return ApiError(400, f"{param}: the model `{served.id}` cannot call tools: {why}.", param=param,
                    code="unsupported_parameter")


def _tool_specs(tools) -> list[dict]:
    """The request's tools checked and normalised to {"type": "function", "function": {name, description?,
    parameters}} (transformers' format, OpenAI's as well)."""
    specs = []
    for i, t in enumerate(tools):
        fn = t.get("function") if isinstance(t, dict) else None
        if not isinstance(t, dict) or t.get("type") != "function" or not isinstance(fn, dict):
            raise ApiError(400, f"tools.{i}: expected {{\"type\": \"function\", \"function\": {{...}}}}",
                           param=f"tools.{i}", code="invalid_value")
        if not isinstance(fn.get("name"), str) or not fn["name"]:
            raise ApiError(400, f"tools.{i}.function.name: a function name is required",
                           param=f"tools.{i}.function.name", code="invalid_value")
        params = fn.get("parameters", {"type": "object", "properties": {}})
        if not isinstance(params, dict):
            raise ApiError(400, f"tools.{i}.function.parameters: must be a JSON schema object",
                           param=f"tools.{i}.function.parameters", code="invalid_value")
        spec = {"name": fn["name"], "parameters": params}
        if fn.get("description"):
            spec["description"] = fn["description"]
        specs.append({"type": "function", "function": spec})
    return specs


def _forced_names(choice, specs: list[dict]) -> list[str] | None:
    """Function names the answer must call (None: the model decides)."""
    names = [s["function"]["name"] for s in specs]
    if choice in (None, "auto"):
        return None
    if choice == "required":
        return names
    if isinstance(choice, dict) and choice.get("type") == "function" and isinstance(choice.get("function"), dict):
        name = choice["function"].get("name")
        if name not in names:
            raise ApiError(400, f"tool_choice.function.name: `{name}` is not one of the request's tools",
                           param="tool_choice.function.name", code="invalid_value")
        return [name]
    raise ApiError(400, 'tool_choice: expected "none", "auto", "required" or {"type": "function", "function": '
                        '{"name": ...}}', param="tool_choice", code="invalid_value")


def forcing_grammar(specs: list[dict], names: list[str]) -> str:
    """An llguidance Lark grammar for exactly one Hermes call to one of `names`, its arguments following the
    function's parameter schema (compact JSON, as response_format uses)."""
    by_name = {s["function"]["name"]: s["function"]["parameters"] for s in specs}
    calls = [{"type": "object", "properties": {"name": {"const": n}, "arguments": by_name[n]},
              "required": ["name", "arguments"], "additionalProperties": False} for n in names]
    schema = {"x-guidance": {"whitespace_flexible": False}, **(calls[0] if len(calls) == 1 else {"anyOf": calls})}
    return f'start: {json.dumps(HERMES_OPEN + chr(10))} call {json.dumps(chr(10) + HERMES_CLOSE)}\n' \
           f'call: %json {json.dumps(schema)}\n'


@dataclass
class ToolPlan:
    """How one request uses tools: what the template renders, what grammar forces a call, how to parse."""
    specs: list[dict]
    grammar: str | None = None  # Lark grammar forcing a call (tool_choice "required" or a named function)
    tokenizer: object = None
    response_template: dict | None = None
    prompt_text: str = ""
    hermes: bool = False  # calls in <tool_call> tags, which can be parsed as they stream

    def streamer(self):
        """A parser for one streamed choice (only for Hermes templates: see refuse_unsupported_tools)."""
        return ToolCallStream()

    def shape(self, choice: dict) -> dict:
        """Turn a chat choice whose text holds tool calls into OpenAI's shape (finish_reason "tool_calls")."""
        message = choice["message"]
        text = message.get("content") or ""
        try:
            parsed = self.tokenizer.parse_response(text, self.response_template, prefix=self.prompt_text,
                                                   tools=self.specs)
        except Exception:  # noqa: BLE001 - a call the parser cannot read (cut by max_tokens, say) stays text
            return choice
        calls = []
        for raw in parsed.get("tool_calls") or []:
            fn = raw.get("function") if isinstance(raw, dict) else None
            if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
                return choice
            args = fn.get("arguments", {})
            calls.append({"id": new_call_id(), "type": "function",
                          "function": {"name": fn["name"],
                                       "arguments": args if isinstance(args, str) else json.dumps(args)}})
        if not calls:
            return choice
        content = parsed.get("content")
        message["content"] = content.strip() if isinstance(content, str) and content.strip() else None
        message["tool_calls"] = calls
        if choice.get("finish_reason") == "stop":
            choice["finish_reason"] = "tool_calls"
        return choice


def tool_fields(body) -> list[str]:
    """The tool-calling parameters a request uses, each as the path a 400 would name."""
    asked = [p for p in ("tools", "functions", "function_call") if getattr(body, p, None)]
    if getattr(body, "tool_choice", None) not in (None, "none"):
        asked.append("tool_choice")
    for i, m in enumerate(getattr(body, "messages", [])):
        if m.role == "tool" or m.tool_calls or m.tool_call_id:
            which = "role" if m.role == "tool" else "tool_calls" if m.tool_calls else "tool_call_id"
            asked.append(f"messages.{i}.{which}")
    return asked


def refuse_unsupported_tools(body, served) -> None:
    """400 naming the first tool parameter the served model cannot honour."""
    asked = tool_fields(body)
    if not asked:
        return
    for legacy in ("functions", "function_call"):
        if legacy in asked:
            raise _unsupported(legacy, served, "the legacy `functions` API is not served; use `tools`")
    tokenizer = served.engine.tokenizer
    if not template_supports_tools(tokenizer):
        raise _unsupported(asked[0], served, "its chat template has no tool support")
    template, hermes = _response_template(tokenizer, "", "")
    if template is None:
        raise _unsupported(asked[0], served, "its chat template writes tool calls in a format this server cannot "
                                             "parse (no response_template, no <tool_call> tags)")
    if served.labeler is not None:
        raise _unsupported(asked[0], served, "it is a classifier")
    if body.tools and body.tool_choice != "none" and body.stream and not hermes:
        raise ApiError(400, "stream: this model's tool calls can only be parsed from the whole answer; send "
                            "stream=false",
                       param="stream", code="unsupported_parameter")


def tool_messages(body, messages: list[dict]) -> list[dict]:
    """Add the assistant `tool_calls` and `tool_call_id` of the request's messages to the rendered ones, with
    arguments as objects (the form chat templates expect; OpenAI clients send JSON strings)."""
    for i, (m, out) in enumerate(zip(body.messages, messages[len(messages) - len(body.messages):])):
        if m.tool_call_id:
            out["tool_call_id"] = m.tool_call_id
        if m.tool_calls:
            out["tool_calls"] = [_rendered_call(f"messages.{i}.tool_calls.{j}", c)
                                 for j, c in enumerate(m.tool_calls)]
    return messages


def _rendered_call(path: str, call) -> dict:
    fn = call.get("function") if isinstance(call, dict) else None
    if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
        raise ApiError(400, f'{path}: expected {{"id", "type": "function", "function": {{"name", "arguments"}}}}',
                       param=path, code="invalid_value")
    args = fn.get("arguments") or {}
    if isinstance(args, str):
        try:
            args = json.loads(args)
        except json.JSONDecodeError:
            raise ApiError(400, f"{path}.function.arguments: not valid JSON", param=f"{path}.function.arguments",
                           code="invalid_value") from None
    return {"id": call.get("id"), "type": "function", "function": {"name": fn["name"], "arguments": args}}


def plan_tools(body, served, messages: list[dict]) -> ToolPlan | None:
    """The request's ToolPlan (None when it offers no tools or tool_choice is "none")."""
    if not body.tools or body.tool_choice == "none":
        return None
    from tuneforge.chat_encoding import render

    tokenizer = served.engine.tokenizer
    specs = _tool_specs(body.tools)
    names = _forced_names(body.tool_choice, specs)
    prompt_text = render(tokenizer, messages, add_generation_prompt=True, tools=specs)
    closed = render(tokenizer, messages, add_generation_prompt=False, tools=specs)
    header = prompt_text[len(closed):] if prompt_text.startswith(closed) else ""
    template, hermes = _response_template(tokenizer, prompt_text, header)
    if names is None and getattr(body, "parallel_tool_calls", None) is False:
        raise ApiError(400, 'parallel_tool_calls: false is honoured only with a forced tool_choice ("required" or a '
                            "named function), which writes exactly one call", param="parallel_tool_calls",
                       code="unsupported_parameter")
    grammar = None
    if names is not None:
        if not hermes:
            raise ApiError(400, "tool_choice: forcing a call is only supported for <tool_call> templates; send "
                                '"auto" or "none"', param="tool_choice", code="unsupported_parameter")
        if body.structured:
            raise ApiError(400, "response_format cannot be combined with a forced tool_choice",
                           param="response_format", code="unsupported_parameter")
        grammar = forcing_grammar(specs, names)
    return ToolPlan(specs, grammar, tokenizer, template, prompt_text, hermes)
