"""A fused classification variant's parts on a labelled file: the head alone, the n-gram model alone, and fused.

One trained run, no retraining: the head's calibrated probabilities, the n-gram model's, and their fusion
(models/fusion.py) as the variant answers. Use it on a test file only after the settings were chosen on
validation rows (benchmarks/classification_ablation.py).

    python benchmarks/fusion_parts.py RUN_DIR examples/invoice-categories/test.jsonl
"""

from __future__ import annotations

import argparse


def main() -> None:
    import numpy as np

    from tuneforge.data.formats import load_examples
    from tuneforge.data.labels import normalise_answer
    from tuneforge.models.classifier import classifier_input, load_classifier

    ap = argparse.ArgumentParser()
    ap.add_argument("run")
    ap.add_argument("data")
    args = ap.parse_args()
    clf = load_classifier(args.run)
    if clf.fusion is None:
        raise SystemExit(f"{args.run} is not a fused variant")
    examples, _ = load_examples(args.data)
    keys = [normalise_answer(label) for label in clf.labels]
    truth = np.array([keys.index(normalise_answer(e.answer)) if normalise_answer(e.answer) in keys else -1
                      for e in examples])
    texts = [classifier_input(e.prompt_messages) for e in examples]
    head = clf.logits(texts).numpy()
    parts = {"head alone": head.argmax(1), "n-grams alone": clf.fusion.ngram.log_probs(texts, len(keys)).argmax(1),
             "fused": np.asarray(clf.probabilities(texts)).argmax(1)}
    print(f"{args.run} on {args.data} ({len(texts)} rows; weight {clf.fusion.weight:g})")
    for name, guess in parts.items():
        print(f"{name}: {100 * float((guess == truth).mean()):.1f}%")


if __name__ == "__main__":
    main()
