"""Turn conversations into token ids with labels on the assistant answers only.

The tokenizer's own chat template renders the text, for training and inference alike, so the model learns the
exact format it will be prompted with and learns to emit the end-of-turn token (it stops after its answer).
Each assistant span is found by rendering the conversation up to that turn with and without it, which works
for any template that renders a prefix of the conversation as a prefix of the text.
"""

from __future__ import annotations

from dataclasses import dataclass

from tuneforge.errors import UserError

IGNORE_INDEX = -100


@dataclass
class Encoded:
    input_ids: list[int]
    labels: list[int]
    truncated: bool = False

    @property
    def n_answer_tokens(self) -> int:
        return sum(1 for x in self.labels if x != IGNORE_INDEX)


# Below this many shared tokens, running a shared prefix separately costs more in overhead than it saves.
MIN_SHARED_PREFIX = 16


def common_start(prefix: list[int] | None, e: Encoded) -> list[int]:
    """The part of `prefix` that `e` also starts with (all of e's context when prefix is None), ending before e's
    first answer token's predecessor, so a shared prefix never carries loss and never predicts a trained token.
    Folded over a batch it gives the batch's shared prefix; over a whole file, the prompt start every row shares."""
    answer_at = next((i for i, x in enumerate(e.labels) if x != IGNORE_INDEX), len(e.labels))
    limit = max(min(len(e.input_ids), answer_at) - 1, 0)
    if prefix is None:
        return e.input_ids[:limit]
    return prefix[:common_prefix_len([prefix[:limit], e.input_ids])]


def common_prefix_len(seqs: list[list[int]]) -> int:
    """How many leading tokens every sequence shares (training batches here; the server's prefill batches too)."""
    n = min(len(s) for s in seqs)
    first = seqs[0]
    for i in range(n):
        if any(s[i] != first[i] for s in seqs):
            return i
    return n


def shared_prefix_length(batch: list[Encoded]) -> int:
    """Tokens every example of the batch starts with (a fixed system prompt, usually); see `common_start`."""
    prefix = None
    for e in batch:
        prefix = common_start(prefix, e)
    return len(prefix or [])


def prefix_computed_once(batch: list[Encoded]) -> int:
    """The prefix length the shared-prefix layout runs once for this batch (train/collate.py); 0 when it does not
    pay (one row, or fewer than MIN_SHARED_PREFIX shared tokens) and the batch is laid out plainly."""
    n = shared_prefix_length(batch) if len(batch) > 1 else 0
    return n if n >= MIN_SHARED_PREFIX else 0


# Message keys the chat template may read besides role and content (tool calling, serve/tool_calls.py).
_TOOL_KEYS = ("tool_calls", "tool_call_id")


def render(tokenizer, messages: list[dict], add_generation_prompt: bool, tools: list[dict] | None = None) -> str:
    msgs = [{"role": m["role"], "content": m["content"], **{k: m[k] for k in _TOOL_KEYS if m.get(k)}}
            for m in messages]
    extra = {"tools": tools} if tools else {}
    return tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=add_generation_prompt, **extra)


def _ids(tokenizer, text: str) -> list[int]:
    # The template already holds any BOS/special tokens; adding them again would differ from inference.
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def encode_conversation(tokenizer, messages: list[dict], max_len: int) -> Encoded:
    input_ids: list[int] = []
    labels: list[int] = []
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        prompt_ids = _ids(tokenizer, render(tokenizer, messages[:i], add_generation_prompt=True))
        full_ids = _ids(tokenizer, render(tokenizer, messages[: i + 1], add_generation_prompt=False))
        if full_ids[: len(input_ids)] != input_ids or full_ids[: len(prompt_ids)] != prompt_ids:
            raise UserError("the chat template does not render conversations prefix-consistently")
        # Context since the last answer (user turns, the assistant header) is not trained on.
        labels.extend([IGNORE_INDEX] * (len(prompt_ids) - len(input_ids)))
        answer = full_ids[len(prompt_ids):]
        trained = m.get("weight", 1) != 0
        labels.extend(answer if trained else [IGNORE_INDEX] * len(answer))
        input_ids = full_ids
    truncated = len(input_ids) > max_len
    return Encoded(input_ids[:max_len], labels[:max_len], truncated)


def encode_prompt(tokenizer, messages: list[dict], tools: list[dict] | None = None) -> list[int]:
    """Ids of a prompt ready for generation: the conversation so far plus the assistant header."""
    return _ids(tokenizer, render(tokenizer, messages, add_generation_prompt=True, tools=tools))
