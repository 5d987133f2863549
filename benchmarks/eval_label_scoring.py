"""Constrained classification: labels scored on a shared prompt cache vs one full forward pass per label.

Both are measured in this run on the same prompts and the printed ratio compares them; the chosen labels must
agree. Usage: python benchmarks/eval_label_scoring.py [--model smollm2-135m] [--n 12]
"""

from __future__ import annotations

import argparse
import time


def per_label_passes(model, tok, prompts, forms):
    """The baseline: every (prompt, label) pair as its own forward pass."""
    import torch

    from tuneforge.eval.constrained import label_continuations

    picked = []
    with torch.inference_mode():
        for prompt in prompts:
            prompt_ids, conts = label_continuations(tok, prompt, forms)
            scores = []
            for cont in conts:
                logp = torch.log_softmax(model(torch.tensor([prompt_ids + cont])).logits.float(), -1)[0]
                scores.append(sum(float(logp[len(prompt_ids) + i - 1, t]) for i, t in enumerate(cont)))
            picked.append(forms[max(range(len(forms)), key=scores.__getitem__)])
    return picked


def main():
    from tuneforge.data.formats import load_examples
    from tuneforge.eval.constrained import score_labels
    from tuneforge.eval.task_types import detect_task
    from tuneforge.models.load import load_model, load_tokenizer
    from tuneforge.models.resolve import resolve_base
    from tuneforge.paths import examples_dir

    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--n", type=int, default=12)
    args = ap.parse_args()
    path = resolve_base(args.model).path
    tok, model = load_tokenizer(path), load_model(path).eval()
    examples, _ = load_examples(examples_dir() / "invoice-categories" / "test.jsonl")
    spec = detect_task([e.answer for e in examples])
    forms = [spec.label_forms[lab] for lab in spec.labels]
    prompts = [e.prompt_messages for e in examples[: args.n]]

    t0 = time.perf_counter()
    baseline = per_label_passes(model, tok, prompts, forms)
    t_base = time.perf_counter() - t0
    t0 = time.perf_counter()
    shared = [g.text for g in score_labels(model, tok, prompts, forms)]
    t_shared = time.perf_counter() - t0
    agree = sum(a == b for a, b in zip(baseline, shared))
    print(f"{len(prompts)} prompts x {len(forms)} labels on {args.model}")
    print(f"one pass per label : {t_base:7.2f} s")
    print(f"shared prompt cache: {t_shared:7.2f} s")
    print(f"speed-up: {t_base / t_shared:.1f}x; same label chosen for {agree}/{len(prompts)} prompts")


if __name__ == "__main__":
    main()
