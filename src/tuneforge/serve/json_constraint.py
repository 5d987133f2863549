"""JSON mode: a character-level checker of "is this text the start of one JSON object?".

The engine asks it, token by token, which candidate continuations keep the answer a valid JSON prefix, and
allows the end-of-answer token only once the object is complete, so `response_format: json_object` answers
parse. Whitespace runs are capped so a model cannot pad forever.
"""

from __future__ import annotations

_WS = " \t\n\r"
_MAX_WS_RUN = 16
_LITERALS = {"t": "true", "f": "false", "n": "null"}
_NUM_END_OK = {"int0", "int", "frac", "exp"}
_ESCAPES = set('"\\/bfnrtu')


class JsonPrefix:
    __slots__ = ("stack", "mode", "lit", "num", "esc", "hex_left", "ws_run", "started")

    def __init__(self):
        self.stack: list[str] = []  # '{' or '['
        # value | key_or_end | key | colon | after | value_or_end | string | key_string | number | literal | done
        self.mode = "value"
        self.lit = ""  # remaining letters of true/false/null
        self.num = ""
        self.esc = False
        self.hex_left = 0
        self.ws_run = 0
        self.started = False

    def copy(self) -> "JsonPrefix":
        c = JsonPrefix.__new__(JsonPrefix)
        c.stack, c.mode, c.lit, c.num = list(self.stack), self.mode, self.lit, self.num
        c.esc, c.hex_left, c.ws_run, c.started = self.esc, self.hex_left, self.ws_run, self.started
        return c

    @property
    def complete(self) -> bool:
        return self.mode == "done"

    def closing_cost(self) -> int:
        """The fewest characters that complete the object from here (the engine closes it before max_tokens)."""
        m, depth = self.mode, len(self.stack)
        pending = (1 if self.esc else 0) + self.hex_left
        own = {
            "done": 0, "after": 0, "value_or_end": 0, "key_or_end": 0, "value": 1, "key": 4, "key_string": 3,
            "colon": 2, "string": 1, "literal": len(self.lit),
            "number": 0 if self.num in _NUM_END_OK else 1,
        }[m]
        if not self.started:
            return 2
        return own + pending + depth

    def feed(self, text: str) -> bool:
        """Advance over `text`; False (state then undefined) if it cannot continue a JSON object."""
        for ch in text:
            if not self._char(ch):
                return False
        return True

    def _close_value(self) -> None:
        self.mode = "after" if self.stack else "done"

    def _char(self, ch: str) -> bool:
        m = self.mode
        if m in ("string", "key_string"):
            return self._string_char(ch)
        if m == "literal":
            if ch != self.lit[0]:
                return False
            self.lit = self.lit[1:]
            if not self.lit:
                self._close_value()
            return True
        if m == "number":
            if self._number_char(ch):
                return True
            if self.num not in _NUM_END_OK:
                return False
            self._close_value()
            return self._char(ch)
        if ch in _WS:
            self.ws_run += 1
            return self.ws_run <= _MAX_WS_RUN and m != "done"
        self.ws_run = 0
        if m == "done":
            return False
        if m in ("value", "value_or_end"):
            if m == "value_or_end" and ch == "]":
                return self._pop("[")
            if not self.started:
                # json_object: the top level must be an object.
                if ch != "{":
                    return False
                self.started = True
            return self._start_value(ch)
        if m in ("key_or_end", "key"):
            if ch == "}" and m == "key_or_end":
                return self._pop("{")
            if ch == '"':
                self.mode = "key_string"
                return True
            return False
        if m == "colon":
            if ch == ":":
                self.mode = "value"
                return True
            return False
        if m == "after":
            top = self.stack[-1]
            if ch == ",":
                self.mode = "key" if top == "{" else "value"
                return True
            if ch == "}" and top == "{":
                return self._pop("{")
            if ch == "]" and top == "[":
                return self._pop("[")
            return False
        return False

    def _pop(self, opener: str) -> bool:
        if not self.stack or self.stack[-1] != opener:
            return False
        self.stack.pop()
        self._close_value()
        return True

    def _start_value(self, ch: str) -> bool:
        if ch == "{":
            self.stack.append("{")
            self.mode = "key_or_end"
        elif ch == "[":
            self.stack.append("[")
            self.mode = "value_or_end"
        elif ch == '"':
            self.mode = "string"
        elif ch in _LITERALS:
            self.mode, self.lit = "literal", _LITERALS[ch][1:]
        elif ch == "-" or ch.isdigit():
            self.mode = "number"
            self.num = "sign" if ch == "-" else ("int0" if ch == "0" else "int")
        else:
            return False
        return True

    def _string_char(self, ch: str) -> bool:
        if self.hex_left:
            if ch not in "0123456789abcdefABCDEF":
                return False
            self.hex_left -= 1
            return True
        if self.esc:
            if ch not in _ESCAPES:
                return False
            self.esc = False
            self.hex_left = 4 if ch == "u" else 0
            return True
        if ch == "\\":
            self.esc = True
            return True
        if ch == '"':
            if self.mode == "key_string":
                self.mode = "colon"
            else:
                self._close_value()
            return True
        return ord(ch) >= 0x20 and ch != "\ufffd"

    def _number_char(self, ch: str) -> bool:
        s, digit = self.num, ch.isdigit() and ch.isascii()
        nxt = {
            "sign": {"d0": "int0", "d": "int"},
            "int": {"d": "int", "d0": "int", ".": "frac0", "e": "exp0"},
            "int0": {".": "frac0", "e": "exp0"},
            "frac0": {"d": "frac", "d0": "frac"},
            "frac": {"d": "frac", "d0": "frac", "e": "exp0"},
            "exp0": {"+": "expsign", "-": "expsign", "d": "exp", "d0": "exp"},
            "expsign": {"d": "exp", "d0": "exp"},
            "exp": {"d": "exp", "d0": "exp"},
        }[s]
        key = ("d0" if ch == "0" else "d") if digit else ("e" if ch in "eE" else ch)
        if key not in nxt:
            return False
        self.num = nxt[key]
        return True
