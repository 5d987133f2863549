"""Where an export's greedy answer leaves the variant's, and by what logit margin.

Both models are run over the same tokens, the prompt followed by the variant's own answer and its stop token
(teacher forcing), so their next-token logits are compared step by step on one path. At the first step where the
export's top token is not the variant's, three numbers say what kind of difference it is:

- `variant_margin`: the variant's logit for its own token minus its logit for the export's token. A few hundredths
  of a logit is a near-tie that rounding the weights (F16, bfloat16, Q8_0) can flip;
- `export_margin`: the same difference in the export, the other way round;
- `relative_margin`: the variant margin as a share of the variant's logit for its token. Rounding a weight to
  bfloat16 changes it by up to 0.4%, to F16 by up to 0.05%, so a flip at a share far below that is a near-tie,
  while a difference at a large share means the export computes something else (tokenizer, template, weights).

Two answers decoded under an extraction variant's grammar part for another reason too: llguidance (the evaluation)
keeps forced text in its canonical tokens, llama.cpp's GBNF checks bytes only. `grammar_divergence` says which.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class Divergence:
    step: int  # index in the variant's answer (its stop token included) where the export first chooses otherwise
    variant_token: str
    export_token: str
    variant_margin: float
    export_margin: float
    variant_logit: float  # the variant's logit for its own token at that step

    @property
    def relative_margin(self) -> float:
        return self.variant_margin / abs(self.variant_logit) if self.variant_logit else float("inf")

    def as_dict(self) -> dict:
        return {**asdict(self), "variant_margin": round(self.variant_margin, 4),
                "export_margin": round(self.export_margin, 4), "variant_logit": round(self.variant_logit, 4),
                "relative_margin": round(self.relative_margin, 6)}


def first_divergence(variant_logits, export_logits, path: list[int], tokenizer) -> Divergence | None:
    """`path` is the variant's answer (Generation.ids: its stop token last); `*_logits[i]` are next-token logits
    before `path[i]`. None when the export's top token is the variant's at every step."""
    import numpy as np

    v, e = np.asarray(variant_logits, dtype=np.float64), np.asarray(export_logits, dtype=np.float64)
    for i, token in enumerate(path):
        choice = int(e[i].argmax())
        if choice != token and e[i][choice] > e[i][token]:
            text = lambda t: tokenizer.decode([t])  # noqa: E731
            return Divergence(i, text(token), text(choice), float(v[i][token] - v[i][choice]),
                              float(e[i][choice] - e[i][token]), float(v[i][token]))
    return None


def transformers_logits(model, prompt_ids: list[int], path: list[int]):
    """Next-token logits of a transformers model along prompt + path, one row per token of `path`."""
    import torch

    ids = torch.tensor([list(prompt_ids) + list(path)], dtype=torch.long, device=next(model.parameters()).device)
    with torch.inference_mode():
        logits = model(input_ids=ids).logits[0].float()
    start = len(prompt_ids) - 1
    return logits[start : start + len(path)].cpu().numpy()


def grammar_divergence(loaded, schema: dict, prompt_ids: list[int], ours: list[int], theirs: list[int]) -> dict:
    """Where two grammar-decoded answers part, and why: whether the evaluation's decoder allows the export's token
    there, and the variant's logit margin for its own token over it (teacher-forced on the common prefix)."""
    from tuneforge.eval.constrained import json_answer_allows

    tok = loaded.tokenizer
    k = next((i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b), min(len(ours), len(theirs)))
    if k >= len(ours) or k >= len(theirs):  # one answer ended where the other went on
        return {"step": k, "variant_token": tok.decode(ours[k:k + 1]), "export_token": tok.decode(theirs[k:k + 1]),
                "evaluation_allows_export_token": True, "variant_margin": float("nan")}
    logits = transformers_logits(loaded.model, prompt_ids, ours[:k + 1])[-1]
    return {"step": k, "variant_token": tok.decode([ours[k]]), "export_token": tok.decode([theirs[k]]),
            "evaluation_allows_export_token": json_answer_allows(loaded.model, tok, schema, ours[:k], theirs[k]),
            "variant_margin": round(float(logits[ours[k]] - logits[theirs[k]]), 4)}


def llama_cpp_logits(llm, prompt_ids: list[int], path: list[int]):
    """The same from llama.cpp; `llm` must be opened with logits_all=True."""
    llm.reset()
    llm.eval(list(prompt_ids) + list(path))
    start = len(prompt_ids) - 1
    return llm.scores[start : start + len(path)].copy()


def margins_of(divergence: Divergence | None) -> dict:
    """What a mismatch record stores: the divergence, or a note that teacher forcing shows none (the greedy runs
    then parted over the order of computation alone: batching, the cache — a tie at rounding level)."""
    return {"divergence": divergence.as_dict() if divergence else {"teacher_forced_identical": True}}


def describe(prompt: str, variant: str, export: str, divergence: dict | None) -> str:
    """One line for a differing answer: what each side said and, when known, the logit margin it came down to."""
    line = f"{prompt!r}: variant {variant!r}, export {export!r}"
    if divergence and divergence.get("teacher_forced_identical"):
        line += "; teacher-forced, the export picks the variant's tokens at every step (a rounding-level tie)"
    elif divergence:
        d = divergence
        line += (f"; at answer token {d['step']} the variant preferred {d['variant_token']!r} over "
                 f"{d['export_token']!r} by {d['variant_margin']:.4f} logits ({100 * d['relative_margin']:.3f}% of "
                 f"its logit {d['variant_logit']:.2f}), the export the other way by {d['export_margin']:.4f}")
    return line


def describe_grammar(record: dict) -> str:
    """One line for a grammar-decoded answer that differs: where it parted, and whether the decoder or the file did."""
    d = record["grammar_divergence"]
    why = ("a token the evaluation's grammar engine does not allow there (the same text in other tokens)"
           if not d["evaluation_allows_export_token"] else
           f"a token both decoders allow; the variant preferred its own by {d['variant_margin']:.4f} logits")
    return (f"{record['prompt']!r}: at answer token {d['step']} the variant wrote {d['variant_token']!r}, "
            f"llama.cpp {d['export_token']!r}: {why}")
