"""Constrained decoding: answers that cannot leave the allowed space.

- Classification: every label's log-likelihood as the answer to the prompt is computed and the most likely
  label wins. Exact (no label is missed because of greedy search) and cheap (one forward pass per label).
- Extraction: the JSON object is written by us, key by key in the expected order; the model only fills each
  value, stopping at the closing quote (strings) or at the separator (numbers). The result is always valid
  JSON with exactly the expected keys.
"""

from __future__ import annotations

import json
import re
import time

from tuneforge.eval.generate import Generation, generate_ids
from tuneforge.train.encode import IGNORE_INDEX, encode_conversation, encode_prompt

_NUMBER = re.compile(r"\s*(-?\d+(?:\.\d+)?)")


def label_continuations(tokenizer, prompt: list[dict], forms: list[str]) -> tuple[list[int], list[list[int]]]:
    """Prompt ids and, per label, the answer ids exactly as training renders them (end-of-turn included)."""
    prompt_ids = encode_prompt(tokenizer, prompt)
    conts = []
    for form in forms:
        enc = encode_conversation(tokenizer, prompt + [{"role": "assistant", "content": form}], max_len=1 << 30)
        if enc.input_ids[: len(prompt_ids)] != prompt_ids:
            raise ValueError("the chat template renders the prompt differently with an answer after it")
        conts.append([t for t, lab in zip(enc.input_ids, enc.labels) if lab != IGNORE_INDEX])
    return prompt_ids, conts


def score_labels(model, tokenizer, prompts: list[list[dict]], forms: list[str], batch_size: int = 16) -> list[Generation]:
    """Pick, for each prompt, the label form with the highest total log-probability."""
    import torch

    pad_id = tokenizer.pad_token_id
    device = next(model.parameters()).device
    pairs = []  # (prompt index, label index, ids, answer start)
    prompt_lens = []
    for p_i, prompt in enumerate(prompts):
        prompt_ids, conts = label_continuations(tokenizer, prompt, forms)
        prompt_lens.append(len(prompt_ids))
        for l_i, cont in enumerate(conts):
            pairs.append((p_i, l_i, prompt_ids + cont, len(prompt_ids)))
    scores = [[0.0] * len(forms) for _ in prompts]
    spent = [0.0] * len(prompts)
    order = sorted(range(len(pairs)), key=lambda i: len(pairs[i][2]))
    model.eval()
    with torch.inference_mode():
        for s in range(0, len(order), batch_size):
            batch = [pairs[i] for i in order[s : s + batch_size]]
            width = max(len(b[2]) for b in batch)
            # Right padding keeps positions natural; padded tails are never read.
            ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, (_, _, seq, _) in enumerate(batch):
                ids[row, : len(seq)] = torch.tensor(seq)
                mask[row, : len(seq)] = 1
            t0 = time.perf_counter()
            logprobs = torch.log_softmax(model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits.float(), -1)
            dt = (time.perf_counter() - t0) / len(batch)
            for row, (p_i, l_i, seq, start) in enumerate(batch):
                targets = torch.tensor(seq[start:], device=logprobs.device)
                positions = torch.arange(start - 1, len(seq) - 1, device=logprobs.device)
                scores[p_i][l_i] = float(logprobs[row, positions, targets].sum())
                spent[p_i] += dt
    out = []
    for p_i, row in enumerate(scores):
        best = max(range(len(forms)), key=lambda j: row[j])
        out.append(Generation(forms[best], spent[p_i], prompt_lens[p_i], 1))
    return out


def _read_value(text: str, kind: str):
    """The value the model wrote, up to where it ends; None when it wrote something of the wrong type."""
    if kind == "string":
        end = re.search(r'(?<!\\)"', text)
        raw = text[: end.start()] if end else text
        try:
            return json.loads(f'"{raw}"')
        except json.JSONDecodeError:
            return raw
    m = _NUMBER.match(text)
    if kind == "number":
        if not m:
            return None
        return float(m.group(1)) if "." in m.group(1) else int(m.group(1))
    raw = re.split(r"[,}\n]", text, maxsplit=1)[0].strip()
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw or None


def fill_json(
    model, tokenizer, prompts: list[list[dict]], keys: list[str], key_types: dict[str, str],
    max_value_tokens: int = 48, batch_size: int = 16,
) -> list[Generation]:
    """Write `{"key": <value>, ...}` for every prompt, letting the model produce only the values."""
    prompt_ids = [encode_prompt(tokenizer, p) for p in prompts]
    objects: list[dict] = [{} for _ in prompts]
    texts = ["{" for _ in prompts]
    spent = [0.0] * len(prompts)
    out_tokens = [0] * len(prompts)
    for n, key in enumerate(keys):
        kind = key_types.get(key, "other")
        opener = json.dumps(key) + ": " + ('"' if kind == "string" else "")
        stops = ['"'] if kind == "string" else [",", "}", "\n"]
        encoded = [
            ids + tokenizer(texts[i] + opener, add_special_tokens=False)["input_ids"] for i, ids in enumerate(prompt_ids)
        ]
        gens = generate_ids(model, tokenizer, encoded, max_value_tokens, batch_size, stop_strings=stops)
        for i, g in enumerate(gens):
            value = _read_value(g.text, kind)
            objects[i][key] = value
            texts[i] += json.dumps(key) + ": " + json.dumps(value, ensure_ascii=False) + (", " if n < len(keys) - 1 else "}")
            spent[i] += g.latency_s
            out_tokens[i] += g.tokens_out
    return [
        Generation(json.dumps(obj, ensure_ascii=False), spent[i], len(prompt_ids[i]), out_tokens[i])
        for i, obj in enumerate(objects)
    ]
