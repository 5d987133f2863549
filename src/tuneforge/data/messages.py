"""Validate one conversation (a list of {role, content} messages) and normalise it.

Every format ends here: chat rows directly, the others after their fields are mapped to roles. Problems name
the field the way the user wrote it (`field_prefix`), so a ShareGPT row reports `conversations[2].from`, not a
name they never used.
"""

from __future__ import annotations

from tuneforge.data.problems import Problem

ROLES = ("system", "user", "assistant")
# Keys OpenAI's format allows on a message that we accept without using.
_OPTIONAL_MESSAGE_KEYS = {"name", "weight"}


def check_messages(
    msgs, file: str, line: int | None, field_prefix: str = "messages", role_key: str = "role",
    content_key: str = "content",
) -> list[Problem]:
    """Every problem with a conversation; empty when it can be trained on."""
    probs: list[Problem] = []

    def err(fld, msg, hint=None):
        probs.append(Problem(file, line, fld, msg, hint))

    if not isinstance(msgs, list):
        err(field_prefix, f"must be a list of {{{role_key}, {content_key}}} objects, got {type(msgs).__name__}")
        return probs
    if not msgs:
        err(field_prefix, "is empty", "add a user turn and an assistant turn")
        return probs
    for i, m in enumerate(msgs):
        fld = f"{field_prefix}[{i}]"
        if not isinstance(m, dict):
            err(fld, f"must be an object with {role_key} and {content_key}")
            continue
        role = m.get(role_key)
        if role not in ROLES:
            err(f"{fld}.{role_key}", f"unknown role {role!r}", f"use one of {', '.join(ROLES)}")
        if content_key not in m:
            err(f"{fld}.{content_key}", "missing")
        elif not isinstance(m[content_key], str):
            err(f"{fld}.{content_key}", f"must be a string, got {type(m[content_key]).__name__}")
        elif not m[content_key].strip():
            err(f"{fld}.{content_key}", "is empty")
        unknown = set(m) - {role_key, content_key} - _OPTIONAL_MESSAGE_KEYS
        if unknown:
            err(fld, f"unknown key(s) {sorted(map(str, unknown))}",
                f"only {role_key}, {content_key}, name and weight are read")
        if "weight" in m:
            # bool is an int in Python; `true` is not a weight the OpenAI format allows.
            if isinstance(m["weight"], bool) or m["weight"] not in (0, 1):
                err(f"{fld}.weight", f"must be 0 or 1, got {m['weight']!r}")
            elif role != "assistant":
                err(f"{fld}.weight", "only assistant messages carry a weight", "remove it from this message")
    if probs:
        return probs
    roles = [m[role_key] for m in msgs]
    if "assistant" not in roles:
        err(field_prefix, "has no assistant turn", "add the ideal answer as a final assistant message")
    elif roles[-1] != "assistant":
        err(f"{field_prefix}[{len(msgs) - 1}].{role_key}", f"last turn is {roles[-1]!r}; the answer must come last",
            "end the conversation with the assistant's answer")
    elif all(m.get("weight", 1) == 0 for m in msgs if m[role_key] == "assistant"):
        err(field_prefix, "every assistant turn has weight 0: nothing to learn", "set weight 1 on the answer")
    if "user" not in roles:
        err(field_prefix, "has no user turn")
    return probs


def clean_message(m: dict, role_key: str = "role", content_key: str = "content") -> dict:
    out = {"role": m[role_key], "content": m[content_key]}
    if "weight" in m:
        out["weight"] = int(m["weight"])
    return out


def with_system(messages: list[dict], system_prompt: str | None) -> list[dict]:
    if system_prompt and messages[0]["role"] != "system":
        return [{"role": "system", "content": system_prompt}, *messages]
    return messages
