"""A classification variant as an evaluation system: its answers are the head's argmax labels, never free text.

The variant is loaded once per evaluation beside the generative systems (it has its own head, so it cannot
share the base's language-model weights in PEFT's adapter switch); each prompt's user text goes through the
same `classifier_input` as at training, and the latency of a batch is shared by its examples.
"""

from __future__ import annotations

import time

from tuneforge.eval.generate import Generation
from tuneforge.models.classifier import classifier_input, load_classifier


def classify_prompts(run_dir: str, prompts: list[list[dict]], batch_size: int = 16) -> list[Generation]:
    clf = load_classifier(run_dir)
    texts = [classifier_input(p) for p in prompts]
    out: list[Generation] = []
    for s in range(0, len(texts), batch_size):
        chunk = texts[s: s + batch_size]
        t0 = time.perf_counter()
        answers = clf.predict(chunk, batch_size)
        each = (time.perf_counter() - t0) / len(chunk)
        tokens = [len(ids) for ids in clf.tokenizer(chunk, add_special_tokens=False)["input_ids"]]
        out += [Generation(label, each, n, 0, confidence=max(probs)) for (label, probs), n in zip(answers, tokens)]
    return out
