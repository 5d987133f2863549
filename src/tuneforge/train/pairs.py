"""Preference pairs for DPO: a prompt conversation, a chosen answer and a rejected answer.

Two JSONL layouts are read: OpenAI's preference fine-tuning format
  {"input": {"messages": [...]}, "preferred_output": [{"role": "assistant", "content": ...}],
   "non_preferred_output": [{"role": "assistant", "content": ...}]}
and the common {"prompt": str | messages, "chosen": str | messages, "rejected": str | messages}.
A pair is an `Example` whose messages are the prompt plus the chosen answer, with the rejected answer in
meta["rejected"], so splitting and hashing reuse the SFT helpers. (Kept small so data/formats.py can fold it in.)
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from tuneforge.data.formats import Example, _check_messages, _read_text
from tuneforge.data.problems import DataError, Problem


def _answer_text(value, file: str, line: int, key: str, problems: list[Problem]) -> str | None:
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict):
        value = value[0].get("content") if value[0].get("role") == "assistant" else None
        if value is None:
            problems.append(Problem(file, line, key, "must hold one assistant message"))
            return None
    if not isinstance(value, str) or not value.strip():
        problems.append(Problem(file, line, key, "must be a non-empty string or one assistant message"))
        return None
    return value


def _prompt_messages(value, file: str, line: int, key: str, problems: list[Problem]) -> list[dict] | None:
    if isinstance(value, str) and value.strip():
        return [{"role": "user", "content": value}]
    if isinstance(value, list):
        # Check the prompt as the conversation that an answer would complete.
        probs = _check_messages(value + [{"role": "assistant", "content": "x"}], file, line)
        if not probs:
            return [{"role": m["role"], "content": m["content"]} for m in value]
        problems.extend(Problem(p.file, p.line, f"{key}.{p.field}", p.message, p.hint) for p in probs)
        return None
    problems.append(Problem(file, line, key, "must be a string or a list of messages"))
    return None


def _parse_row(row: dict, file: str, line: int, problems: list[Problem]) -> Example | None:
    before = len(problems)
    if "preferred_output" in row or "non_preferred_output" in row:
        inp = row.get("input")
        msgs = inp.get("messages") if isinstance(inp, dict) else None
        prompt = _prompt_messages(msgs, file, line, "input.messages", problems)
        chosen = _answer_text(row.get("preferred_output"), file, line, "preferred_output", problems)
        rejected = _answer_text(row.get("non_preferred_output"), file, line, "non_preferred_output", problems)
    elif {"prompt", "chosen", "rejected"} <= set(row):
        prompt = _prompt_messages(row["prompt"], file, line, "prompt", problems)
        chosen = _answer_text(row["chosen"], file, line, "chosen", problems)
        rejected = _answer_text(row["rejected"], file, line, "rejected", problems)
    else:
        problems.append(Problem(
            file, line, None, "not a preference pair",
            "use {prompt, chosen, rejected} or OpenAI's {input, preferred_output, non_preferred_output}",
        ))
        return None
    if len(problems) > before:
        return None
    return Example(prompt + [{"role": "assistant", "content": chosen}], line=line, meta={"rejected": rejected})


def load_pairs(path: str | Path, system_prompt: str | None = None) -> list[Example]:
    """Read a preference JSONL; raise DataError naming file, line and field for every bad row."""
    path = Path(path)
    file = str(path)
    text = _read_text(path)
    pairs: list[Example] = []
    problems: list[Problem] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except json.JSONDecodeError as e:
            problems.append(Problem(file, lineno, None, f"bad JSON: {e.msg} (column {e.colno})"))
            continue
        if not isinstance(row, dict):
            problems.append(Problem(file, lineno, None, f"expected a JSON object, got {type(row).__name__}"))
            continue
        pair = _parse_row(row, file, lineno, problems)
        if pair is not None:
            if system_prompt and pair.messages[0]["role"] != "system":
                pair.messages.insert(0, {"role": "system", "content": system_prompt})
            pairs.append(pair)
    if not pairs and not problems:
        problems.append(Problem(file, None, None, "no preference pairs in the file"))
    if problems:
        raise DataError(problems)
    return pairs


def pairs_hash(pairs: list[Example]) -> str:
    h = hashlib.sha256()
    for p in pairs:
        row = {"messages": p.messages, "rejected": p.meta["rejected"]}
        h.update(json.dumps(row, sort_keys=True, ensure_ascii=False).encode("utf-8") + b"\n")
    return "sha256:" + h.hexdigest()
