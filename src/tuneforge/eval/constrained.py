"""Constrained decoding: answers that cannot leave the allowed space.

- Classification: every label's log-likelihood as the answer to the prompt is computed and the most likely
  label wins. Exact (no label is missed because of greedy search) and cheap (the prompt runs once; each label
  adds only its own few tokens).
- Extraction: the JSON object is written by us, key by key in the expected order; the model only fills each
  value, stopping at the closing quote (strings) or at the separator (numbers). The result is always valid
  JSON with exactly the expected keys.
"""

from __future__ import annotations

import json
import re
import time

from tuneforge.chat_encoding import IGNORE_INDEX, encode_conversation, encode_prompt
from tuneforge.errors import UserError
from tuneforge.eval.generate import Generation, generate_ids
from tuneforge.models.transformers_api import cache_of, with_cache

# A number as the model writes it: JSON (1409.65) or as printed on the source document (1.409,65 / 1,409.65 /
# 1'409.65 / 1 409,65): small models often copy an amount in the invoice's own format (issue 9, extraction).
_NUMBER = re.compile(r"\s*(-?\d(?:[\d.,' ]*\d)?)")


def parse_number(raw: str):
    """The value of a number written with any common thousands/decimal separators; None if it is not one.

    The last '.' or ',' is the decimal point when digits follow it in a group other than three, or when both
    separators occur; a lone separator before exactly three digits ("1.588", "1,588") stays a decimal point,
    as JSON reads it.
    """
    t = raw.replace("'", "").replace(" ", "")
    if "," in t and "." in t:
        dec = "," if t.rfind(",") > t.rfind(".") else "."
        t = t.replace("." if dec == "," else ",", "").replace(",", ".")
    elif t.count(",") > 1 or t.count(".") > 1:  # 1,234,567 / 1.234.567: grouping only
        t = t.replace(",", "").replace(".", "")
    else:
        t = t.replace(",", ".")
    try:
        value = float(t)
    except ValueError:
        return None
    return int(value) if "." not in t else value


def label_continuations(tokenizer, prompt: list[dict], forms: list[str]) -> tuple[list[int], list[list[int]]]:
    """Prompt ids and, per label, the answer ids exactly as training renders them (end-of-turn included)."""
    prompt_ids = encode_prompt(tokenizer, prompt)
    conts = []
    for form in forms:
        enc = encode_conversation(tokenizer, prompt + [{"role": "assistant", "content": form}], max_len=1 << 30)
        if enc.input_ids[: len(prompt_ids)] != prompt_ids:
            raise UserError("the chat template renders the prompt differently with an answer after it")
        conts.append([t for t, lab in zip(enc.input_ids, enc.labels) if lab != IGNORE_INDEX])
    return prompt_ids, conts


def score_labels(model, tokenizer, prompts: list[list[dict]], forms: list[str], batch_size: int = 16) -> list[Generation]:
    """Pick, for each prompt, the label form with the highest total log-probability."""
    return [g for g, _ in label_logprobs(model, tokenizer, prompts, forms, batch_size)]


def label_logprobs(model, tokenizer, prompts, forms, batch_size: int = 16) -> list[tuple[Generation, list[float]]]:
    """Per prompt: the best label as a Generation, and every label's total log-probability.

    The prompt is run once and its key/value cache is shared by every label's continuation, so the cost is one
    prompt pass plus a few tokens per label instead of one full pass per label.
    """
    import torch

    from tuneforge.eval.generate import left_padded

    pad_id = tokenizer.pad_token_id
    device = next(model.parameters()).device
    n_labels = len(forms)
    encoded = [label_continuations(tokenizer, p, forms) for p in prompts]
    order = sorted(range(len(prompts)), key=lambda i: len(encoded[i][0]))
    # Prompts per pass: each is repeated once per label, so keep prompts x labels near the batch size.
    per_pass = max(1, batch_size // n_labels)
    results: list[tuple[Generation, list[float]] | None] = [None] * len(prompts)
    model.eval()
    with torch.inference_mode():
        for s in range(0, len(order), per_pass):
            chunk = order[s : s + per_pass]
            t0 = time.perf_counter()
            ids, mask = left_padded([encoded[i][0] for i in chunk], pad_id)
            positions = (mask.cumsum(-1) - 1).clamp(min=0)
            first = model(input_ids=ids.to(device), attention_mask=mask.to(device),
                          position_ids=positions.to(device), use_cache=True)
            # The last prompt column predicts every label's first token (left padding puts it there).
            first_logp = torch.log_softmax(first.logits[:, -1].float(), -1)
            cache = cache_of(first)
            cache.batch_repeat_interleave(n_labels)
            conts = [encoded[i][1][j] for i in chunk for j in range(n_labels)]
            width = max(len(c) for c in conts)
            cont_ids = torch.full((len(conts), width), pad_id, dtype=torch.long)
            cont_mask = torch.zeros((len(conts), width), dtype=torch.long)
            for row, c in enumerate(conts):
                cont_ids[row, : len(c)] = torch.tensor(c)
                cont_mask[row, : len(c)] = 1
            starts = mask.sum(-1).repeat_interleave(n_labels)
            rest = model(
                input_ids=cont_ids.to(device),
                attention_mask=torch.cat([mask.repeat_interleave(n_labels, 0), cont_mask], 1).to(device),
                position_ids=(starts[:, None] + torch.arange(width)[None, :]).to(device),
                **with_cache(cache),
            )
            logp = torch.log_softmax(rest.logits.float(), -1)
            dt = (time.perf_counter() - t0) / len(chunk)
            for b, i in enumerate(chunk):
                scores = []
                for j in range(n_labels):
                    row, c = b * n_labels + j, conts[b * n_labels + j]
                    total = float(first_logp[b, c[0]])
                    total += sum(float(logp[row, k - 1, c[k]]) for k in range(1, len(c)))
                    scores.append(total)
                best = max(range(n_labels), key=scores.__getitem__)
                results[i] = (Generation(forms[best], dt, len(encoded[i][0]), len(conts[b * n_labels + best])), scores)
    return results  # type: ignore[return-value]


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
        return parse_number(m.group(1)) if m else None
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
        # A number ends at the next key (', "'), not at its first comma: "1.409,65" is one number.
        stops = ['"'] if kind == "string" else ([', "', ',"', "}", "\n"] if kind == "number" else [",", "}", "\n"])
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
