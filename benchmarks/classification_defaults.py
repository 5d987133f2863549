"""Measure the classification-variant settings on a labelled task, beside TF-IDF + logistic regression.

The rules in train/defaults.py come from this script. For each setting it trains a classification variant of
the bundled model on the task's training file (minus the seeded held-out split that `tuneforge train` takes)
and prints held-out and test accuracy after every epoch; the frozen layers' states are computed once per split
point and shared by all settings, as in training. TF-IDF char n-grams + LR is trained on the same rows in the
same run, so a busy machine slows both and the comparison stays fair.

    python benchmarks/classification_defaults.py examples/invoice-categories \
        "lora:8:1e-3:16" "full:8:1e-4:16" --epochs 8

Each setting is method:trained_layers:lr:batch (LoRA rank 16, linear warm-up 10% then cosine, seed 42).
"""

from __future__ import annotations

import argparse
import random
import time


def tfidf_accuracy(train, test) -> float:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from tuneforge.data.labels import normalise_answer

    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)
    clf = LogisticRegression(C=10, max_iter=3000)
    clf.fit(vec.fit_transform([e.user_text for e in train]), [normalise_answer(e.answer) for e in train])
    pred = clf.predict(vec.transform([e.user_text for e in test]))
    return sum(p == normalise_answer(e.answer) for p, e in zip(pred, test)) / len(test)


def main() -> None:
    import torch

    from tuneforge.config import TrainConfig
    from tuneforge.data.formats import load_examples
    from tuneforge.data.labels import normalise_answer
    from tuneforge.data.split import split_examples
    from tuneforge.models.classifier import classifier_input, load_head_model
    from tuneforge.models.load import load_tokenizer
    from tuneforge.models.resolve import resolve_base
    from tuneforge.train.classification import TopLayers, _held_out, _trainable, label_forms, split_layers

    from head_epochs import head_epochs  # beside this script (run as `python benchmarks/...`)

    ap = argparse.ArgumentParser()
    ap.add_argument("task", help="folder with train.jsonl and test.jsonl")
    ap.add_argument("settings", nargs="+")
    ap.add_argument("--epochs", type=int, default=8)
    args = ap.parse_args()
    torch.set_num_threads(1)

    every, _ = load_examples(f"{args.task}/train.jsonl")
    test, _ = load_examples(f"{args.task}/test.jsonl")
    train, held = split_examples(every, 0.1, 42)
    t0 = time.time()
    print(f"tfidf char 2-5 + LR on the same {len(train)} rows: test {100 * tfidf_accuracy(train, test):.1f}% "
          f"({time.time() - t0:.1f}s); on all {len(every)}: {100 * tfidf_accuracy(every, test):.1f}%", flush=True)
    labels, index = label_forms([e.answer for e in every])
    split = lambda rows: ([classifier_input(e.prompt_messages) for e in rows],  # noqa: E731
                          [index[normalise_answer(e.answer)] for e in rows])
    (texts, y), (htexts, hy), (ttexts, ty) = split(train), split(held), split(test)
    base = resolve_base("smollm2-135m").path
    tok = load_tokenizer(base)
    lengths = [len(i) for i in tok(texts, add_special_tokens=False)["input_ids"]]
    cache: dict[int, tuple] = {}
    for setting in args.settings:
        method, layers, lr, batch = setting.split(":")
        cfg = TrainConfig(data="-", method=method, lr=float(lr), batch_size=int(batch), epochs=args.epochs,
                          classifier_layers=int(layers), warmup_ratio=0.1, schedule="cosine")
        torch.manual_seed(42)
        random.seed(42)
        clf = load_head_model(base, len(labels), tok.pad_token_id)
        first = split_layers(len(clf.model.layers), cfg.classifier_layers)
        model = _trainable(clf, cfg, first)
        model.train()
        top = TopLayers(clf, first)
        if first not in cache:
            t0 = time.time()
            cache[first] = (top.features(tok, texts), top.features(tok, htexts), top.features(tok, ttexts))
            print(f"  frozen layers below {first}: {time.time() - t0:.0f}s", flush=True)
        feats, hfeats, tfeats = cache[first]
        t0, cpu0 = time.time(), time.process_time()
        for epoch in head_epochs(model, top, cfg, feats, y, lengths, 42):  # cfg.weight_decay is 0.0
            hl, ha, _ = _held_out(top, hfeats, hy, 64)
            _, ta, _ = _held_out(top, tfeats, ty, 64)
            print(f"{setting} epoch {epoch}: held-out loss {hl:.3f} acc {100 * ha:.1f}%  test {100 * ta:.1f}%  "
                  f"({time.time() - t0:.0f}s wall, {time.process_time() - cpu0:.0f}s cpu)", flush=True)


if __name__ == "__main__":
    main()
