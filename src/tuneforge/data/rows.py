"""One JSON row of each supported format -> a normalised conversation (plus a preference pair's rejected answer).

Each converter returns (messages, meta, problems): messages/meta are None when the row has problems. The formats:

- chat: OpenAI fine-tuning `{"messages": [{role, content, weight?}, ...]}` (multi-turn; weight 0 = not trained).
- prompt_completion: `{"prompt": str, "completion": str}`.
- alpaca: `{"instruction": str, "input": str?, "output": str, "system": str?}`.
- sharegpt: `{"conversations": [{"from": "human"|"gpt"|"system", "value": str}, ...], "system": str?}`.
- preference: OpenAI DPO `{"input": {"messages": [...]}, "preferred_output": [{assistant}],
  "non_preferred_output": [{assistant}]}`.
- chosen_rejected: `{"prompt": str | [messages], "chosen": str | [messages], "rejected": str | [messages]}`
  (TRL's shape; with message lists and no prompt, the shared prefix of chosen and rejected is the prompt).
"""

from __future__ import annotations

from tuneforge.data.messages import check_messages, clean_message
from tuneforge.data.problems import Problem

FORMATS = ("chat", "prompt_completion", "alpaca", "sharegpt", "preference", "chosen_rejected")

# The keys that identify each format, most specific first: detection takes the first whose keys a row has.
_SIGNATURES = (
    ("preference", ("preferred_output", "non_preferred_output")),
    ("chosen_rejected", ("chosen", "rejected")),
    ("chat", ("messages",)),
    ("sharegpt", ("conversations",)),
    ("alpaca", ("instruction",)),
    ("prompt_completion", ("completion",)),
    ("prompt_completion", ("prompt",)),
)

SHAREGPT_ROLES = {
    "human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "chatgpt": "assistant",
    "model": "assistant", "system": "system",
}


def detect_row_format(row) -> str | None:
    if not isinstance(row, dict):
        return None
    for fmt, keys in _SIGNATURES:
        if all(k in row for k in keys):
            return fmt
    return None


def _text_fields(row: dict, file: str, line: int, required: tuple[str, ...], optional: tuple[str, ...] = ()):
    probs = []
    for key in required + optional:
        if key not in row:
            if key in required:
                probs.append(Problem(file, line, key, "missing"))
        elif not isinstance(row[key], str):
            probs.append(Problem(file, line, key, f"must be a string, got {type(row[key]).__name__}"))
        elif key in required and not row[key].strip():
            probs.append(Problem(file, line, key, "is empty"))
    return probs


def _chat(row, file, line):
    if "messages" not in row:
        return None, None, [Problem(file, line, "messages", "missing", 'each line needs {"messages": [...]}')]
    probs = check_messages(row["messages"], file, line)
    if probs:
        return None, None, probs
    return [clean_message(m) for m in row["messages"]], {}, []


def _prompt_completion(row, file, line):
    probs = _text_fields(row, file, line, ("prompt", "completion"))
    if probs:
        return None, None, probs
    return [{"role": "user", "content": row["prompt"]}, {"role": "assistant", "content": row["completion"]}], {}, []


def _alpaca(row, file, line):
    probs = _text_fields(row, file, line, ("instruction", "output"), ("input", "system"))
    if probs:
        return None, None, probs
    extra = row.get("input") or ""
    user = row["instruction"] + ("\n\n" + extra if extra.strip() else "")
    system = [{"role": "system", "content": row["system"]}] if (row.get("system") or "").strip() else []
    return [*system, {"role": "user", "content": user}, {"role": "assistant", "content": row["output"]}], {}, []


def _sharegpt(row, file, line):
    conv = row.get("conversations")
    if not isinstance(conv, list):
        return None, None, [Problem(file, line, "conversations", "must be a list of {from, value} objects")]
    probs = _text_fields(row, file, line, (), ("system",))
    mapped = []
    for i, turn in enumerate(conv):
        if isinstance(turn, dict) and "from" in turn:
            src = turn["from"]
            role = SHAREGPT_ROLES.get(src.lower()) if isinstance(src, str) else None
            if role is None:
                probs.append(Problem(file, line, f"conversations[{i}].from", f"unknown speaker {src!r}",
                                     f"use one of {', '.join(sorted(SHAREGPT_ROLES))}"))
                continue
            mapped.append({**turn, "from": role})
        else:
            mapped.append(turn)
    if probs:
        return None, None, probs
    probs = check_messages(mapped, file, line, "conversations", role_key="from", content_key="value")
    if probs:
        return None, None, probs
    msgs = [clean_message(m, "from", "value") for m in mapped]
    if (row.get("system") or "").strip() and msgs[0]["role"] != "system":
        msgs.insert(0, {"role": "system", "content": row["system"]})
    return msgs, {}, []


def _answer_text(value, field: str, file: str, line: int):
    """A preference side: a string, or a list whose last message is the assistant's answer."""
    if isinstance(value, str):
        return (value, None) if value.strip() else (None, Problem(file, line, field, "is empty"))
    if isinstance(value, list) and value:
        last = value[-1]
        if isinstance(last, dict) and last.get("role") == "assistant":
            content = last.get("content")
            if isinstance(content, str) and content.strip():
                return content, None
            return None, Problem(file, line, f"{field}[{len(value) - 1}].content", "must be a non-empty string")
        return None, Problem(file, line, f"{field}[{len(value) - 1}]", "must be an assistant message",
                             'e.g. [{"role": "assistant", "content": "..."}]')
    return None, Problem(file, line, field, f"must be a string or a list of messages, got {type(value).__name__}")


def _pair(prompt_msgs, chosen, rejected, file, line, prompt_field):
    """Validate prompt + chosen as a conversation; the pair's meta is the two answers."""
    msgs = [*prompt_msgs, {"role": "assistant", "content": chosen}]
    probs = check_messages(msgs, file, line, prompt_field)
    if probs:
        return None, None, probs
    if chosen.strip() == rejected.strip():
        return None, None, [Problem(file, line, "rejected", "is the same as the preferred answer",
                                    "a pair needs two different answers")]
    return [clean_message(m) for m in msgs], {"chosen": chosen, "rejected": rejected}, []


def _preference(row, file, line):
    inp = row.get("input")
    if not isinstance(inp, dict) or "messages" not in inp:
        return None, None, [Problem(file, line, "input", 'must be {"messages": [...]}')]
    if not isinstance(inp["messages"], list):
        return None, None, [Problem(file, line, "input.messages", "must be a list of messages")]
    chosen, p1 = _answer_text(row.get("preferred_output"), "preferred_output", file, line)
    rejected, p2 = _answer_text(row.get("non_preferred_output"), "non_preferred_output", file, line)
    probs = [p for p in (p1, p2) if p]
    if probs:
        return None, None, probs
    return _pair(inp["messages"], chosen, rejected, file, line, "input.messages")


def _common_prefix(a: list, b: list) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def _chosen_rejected(row, file, line):
    prompt, chosen, rejected = row.get("prompt"), row.get("chosen"), row.get("rejected")
    if prompt is None and isinstance(chosen, list) and isinstance(rejected, list):
        # TRL's implicit-prompt shape: both sides are whole conversations that share the prompt.
        n = _common_prefix(chosen, rejected)
        prompt, chosen, rejected = chosen[:n], chosen[n:], rejected[n:]
    if isinstance(prompt, str):
        prompt_msgs = [{"role": "user", "content": prompt}]
    elif isinstance(prompt, list):
        prompt_msgs = prompt
    else:
        return None, None, [Problem(file, line, "prompt", "must be a string or a list of messages"
                                    if prompt is not None else "missing")]
    c, p1 = _answer_text(chosen, "chosen", file, line)
    r, p2 = _answer_text(rejected, "rejected", file, line)
    probs = [p for p in (p1, p2) if p]
    if probs:
        return None, None, probs
    return _pair(prompt_msgs, c, r, file, line, "prompt")


CONVERTERS = {
    "chat": _chat,
    "prompt_completion": _prompt_completion,
    "alpaca": _alpaca,
    "sharegpt": _sharegpt,
    "preference": _preference,
    "chosen_rejected": _chosen_rejected,
}
