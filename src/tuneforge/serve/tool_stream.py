"""Streamed tool calls: the text deltas of one answer turned into OpenAI's chat-chunk deltas as they arrive.

OpenAI streams a call as a first delta `{"tool_calls": [{"index", "id", "type": "function", "function": {"name",
"arguments": ""}}]}` and then deltas `{"tool_calls": [{"index", "function": {"arguments": "<next piece>"}}]}`
whose pieces concatenate to the arguments' JSON. This reads the Hermes convention the non-streamed path parses
(serve/tool_calls.py): `<tool_call>{"name": ..., "arguments": {...}}</tool_call>`, the convention of the forced
grammar and of Qwen/Hermes/SmolLM3 templates.

Text outside the tags goes out as `content`, holding back only what could still turn out to be the start of a
tag (and whitespace, which the non-streamed path strips around calls). Inside a tag, the name is sent once the
`{"name": "...", "arguments":` header is complete, then the arguments' characters as they come, up to the end
of their JSON value (a small scanner over strings, escapes and nesting depth); arguments that a model writes
as a JSON-encoded string are sent decoded, in one piece, as the non-streamed path does. A call written in another key
order is sent whole at its closing tag; one that is not valid JSON is sent back as the text it was, and so is
a tag left open when the answer ends (cut by max_tokens): the non-streamed path keeps such text as well.
"""

from __future__ import annotations

import json
import re
import uuid

# The Hermes convention's tags, here beside the parser that scans for them; serve/tool_calls.py writes them into
# the forced-call grammar and parses whole answers by them.
HERMES_OPEN, HERMES_CLOSE = "<tool_call>", "</tool_call>"


def new_call_id() -> str:
    """An OpenAI-shaped id for one tool call (streamed or not)."""
    return "call_" + uuid.uuid4().hex[:24]

_HEADER = re.compile(r'\s*\{\s*"name"\s*:\s*"((?:[^"\\]|\\.)*)"\s*,\s*"arguments"\s*:')
_TEXT, _HEAD, _ARGS, _TAIL = "text", "head", "args", "tail"


def _partial_tag_start(text: str, tag: str) -> int:
    """Where a suffix of `text` that is a proper prefix of `tag` begins (len(text) if none)."""
    for k in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:k]):
            return len(text) - k
    return len(text)


class _ValueEnd:
    """Finds where one JSON value ends in text fed piece by piece (the value itself is checked by no one: the
    client gets what the model wrote, as with the non-streamed path's arguments)."""

    def __init__(self):
        self.started = False
        self.depth = 0  # nesting of objects and arrays
        self.in_string = False
        self.escaped = False
        self.scalar = False  # a number, true, false or null: it ends at the next delimiter
        self.string = False  # the value is a string (arguments some models write as a JSON-encoded string)

    def take(self, text: str) -> tuple[str, int, bool]:
        """(the part of `text` that belongs to the value, how much of `text` was read, whether the value ended)."""
        start = 0 if self.started else None
        for i, ch in enumerate(text):
            if not self.started:
                if ch.isspace():
                    continue
                self.started, start = True, i
                self.depth = 1 if ch in "{[" else 0
                self.in_string = self.string = ch == '"'
                self.scalar = ch not in '{["'
            elif self.in_string:
                if self.escaped:
                    self.escaped = False
                elif ch == "\\":
                    self.escaped = True
                elif ch == '"':
                    self.in_string = False
                    if self.depth == 0:  # a string value ends with its closing quote
                        return text[start:i + 1], i + 1, True
            elif self.scalar:
                if ch in ",}]" or ch.isspace():
                    return text[start:i], i, True
            elif ch == '"':
                self.in_string = True
            elif ch in "{[":
                self.depth += 1
            elif ch in "}]":
                self.depth -= 1
                if self.depth == 0:
                    return text[start:i + 1], i + 1, True
        return ("" if start is None else text[start:]), len(text), False


def _decoded(encoded: str) -> str:
    try:
        return json.loads(encoded)
    except json.JSONDecodeError:
        return encoded


class ToolCallStream:
    """One choice's parser: feed() each text delta, close() at the end; both return chat-chunk deltas."""

    def __init__(self):
        self.state = _TEXT
        self.buffer = ""  # text not yet sent: held-back text, or the raw call since its tag
        self.calls = 0
        self.after_call = False  # whitespace right after a call is not content
        self.value: _ValueEnd | None = None
        self.space = ""  # whitespace held before the last tag
        self.encoded = ""  # string-valued arguments, held until whole

    def _open_call(self, name: str, arguments: str = "") -> dict:
        self.calls += 1
        return {"tool_calls": [{"index": self.calls - 1, "id": new_call_id(), "type": "function",
                                "function": {"name": name, "arguments": arguments}}]}

    def _arguments(self, piece: str) -> dict:
        return {"tool_calls": [{"index": self.calls - 1, "function": {"arguments": piece}}]}

    def _content(self, text: str) -> list[dict]:
        if self.after_call:
            text = text.lstrip()
        if not text:
            return []
        self.after_call = False
        return [{"content": text}]

    def feed(self, text: str) -> list[dict]:
        self.buffer += text
        out: list[dict] = []
        while True:
            before = (self.state, self.buffer)
            out.extend(self._step())
            if (self.state, self.buffer) == before:
                return out

    def _step(self) -> list[dict]:
        if self.state == _TEXT:
            at = self.buffer.find(HERMES_OPEN)
            if at >= 0:
                text, self.buffer, self.state = self.buffer[:at], self.buffer[at + len(HERMES_OPEN):], _HEAD
                self.space = text[len(text.rstrip()):]  # given back if the tag never becomes a call
                return self._content(text.rstrip())
            # Hold back what may still become a tag, and trailing whitespace (a tag may follow it).
            keep = len(self.buffer[:_partial_tag_start(self.buffer, HERMES_OPEN)].rstrip())
            if self.after_call and not self.buffer[:keep].strip():
                return []
            text, self.buffer = self.buffer[:keep], self.buffer[keep:]
            return self._content(text)
        if self.state == _HEAD:
            match = _HEADER.match(self.buffer)
            if match:
                self.buffer, self.state, self.value, self.encoded = self.buffer[match.end():], _ARGS, _ValueEnd(), ""
                return [self._open_call(json.loads(f'"{match.group(1)}"'))]
            end = self.buffer.find(HERMES_CLOSE)
            if end < 0:
                return []
            raw, self.buffer, self.state = self.buffer[:end], self.buffer[end + len(HERMES_CLOSE):], _TEXT
            return self._whole_call(raw)
        if self.state == _ARGS:
            piece, read, ended = self.value.take(self.buffer)
            self.buffer = self.buffer[read:]
            if ended:
                self.state = _TAIL
            if self.value.string:  # arguments written as a JSON string: sent decoded, once it is whole
                self.encoded += piece
                return [self._arguments(_decoded(self.encoded))] if ended else []
            return [self._arguments(piece)] if piece else []
        end = self.buffer.find(HERMES_CLOSE)  # _TAIL: the rest of the call object, up to its closing tag
        if end < 0:
            return []
        self.buffer, self.state, self.after_call = self.buffer[end + len(HERMES_CLOSE):], _TEXT, True
        return []

    def _whole_call(self, raw: str) -> list[dict]:
        try:
            call = json.loads(raw)
        except json.JSONDecodeError:
            call = None
        if not isinstance(call, dict) or not isinstance(call.get("name"), str):
            return self._content(self.space + HERMES_OPEN + raw + HERMES_CLOSE)
        args = call.get("arguments", {})
        self.after_call = True
        return [self._open_call(call["name"], args if isinstance(args, str) else json.dumps(args))]

    def close(self) -> list[dict]:
        """What is still held at the end of the answer."""
        rest, self.buffer = self.buffer, ""
        if self.state == _TEXT:
            return self._content(rest.rstrip() if self.calls else rest)
        if self.state == _HEAD:
            return self._content(self.space + HERMES_OPEN + rest)  # a tag left open: no call came, the text stays
        return []  # a call cut inside its arguments: sent as far as it went (finish_reason says "length")
