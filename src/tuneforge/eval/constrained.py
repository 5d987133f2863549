"""Constrained decoding: answers that cannot leave the allowed space.

- Classification: every label's log-likelihood as the answer to the prompt is computed and the most likely
  label wins. Exact (no label is missed because of greedy search) and cheap (the prompt runs once; each label
  adds only its own few tokens).
- Extraction: the answer is decoded under the grammar of the learned keys (models/answer_grammar.py), the one
  the server uses: one JSON object with exactly those keys, in order, each of its type, always valid JSON.
"""

from __future__ import annotations

import time
import weakref

from tuneforge.chat_encoding import IGNORE_INDEX, encode_conversation, encode_prompt
from tuneforge.errors import UserError
from tuneforge.eval.generate import Generation, generate_ids
from tuneforge.models.load import stop_token_ids
from tuneforge.models.transformers_api import cache_of, with_cache


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


# One llguidance vocabulary index per tokenizer (about a second to build), kept while the tokenizer lives:
# `predict --input` answers a file chunk by chunk with the same tokenizer.
_GRAMMARS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _grammars(tokenizer, stops: list[int]):
    from tuneforge.models.structured import Grammars

    grammars = _GRAMMARS.get(tokenizer)
    if grammars is None or grammars.stop_ids != sorted(stops):
        grammars = _GRAMMARS[tokenizer] = Grammars(tokenizer, stops)
    return grammars


def json_answers(model, tokenizer, prompts: list[list[dict]], schema: dict, batch_size: int = 16) -> list[Generation]:
    """Every prompt's answer decoded under the grammar of the learned keys: the server's decoder and budget
    (models/answer_grammar.py), so what `eval` scores and `predict` writes is what the server answers."""
    from tuneforge.models.answer_grammar import answer_format
    from tuneforge.models.structured import SchemaError

    fmt = answer_format(schema)
    if fmt is None:
        raise UserError("the reference answers are JSON objects without keys: nothing to decode into",
                        field="keys", hint="evaluate with --no-constrained")
    grammars = _grammars(tokenizer, stop_token_ids(tokenizer, model))
    try:
        grammars.compile(fmt.grammar)  # once, cached: each row copies the compiled matcher
    except SchemaError as err:
        raise UserError(f"the answers' JSON keys {schema['keys']} make no grammar: {err}", field="keys") from None
    encoded = [encode_prompt(tokenizer, p) for p in prompts]
    return generate_ids(model, tokenizer, encoded, fmt.max_tokens, batch_size,
                        constraints=[grammars.row(fmt.grammar) for _ in prompts])


def json_answer_allows(model, tokenizer, schema: dict, answer_ids: list[int], token: int) -> bool:
    """Whether `json_answers`' decoder allows `token` after the answer tokens `answer_ids`. llguidance keeps text
    the grammar forces (a key, its quotes) in its canonical tokens: a runtime that only checks the bytes (llama.cpp's
    GBNF) may write the same text in other tokens, and from there its answer can go its own way."""
    from tuneforge.models.answer_grammar import answer_format

    row = _grammars(tokenizer, stop_token_ids(tokenizer, model)).row(answer_format(schema).grammar)
    for t in answer_ids:
        row.advance(t)
        if row.error:
            return False
    return token < row.n_vocab and bool(row.allowed(row.n_vocab)[token])
