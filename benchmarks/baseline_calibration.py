"""The non-LLM baselines' stated probabilities on a labelled test file, before and after their temperature.

`tuneforge eval` fits each baseline (eval/classical.py) on the variant's training rows and temperature-scales its
probabilities on out-of-fold predictions of those rows. This prints, per baseline, the accuracy on TEST and the
calibration there: mean confidence and expected calibration error of scikit-learn's raw probabilities and of the
calibrated ones (argmax, hence the labels, is the same for both).

    python benchmarks/baseline_calibration.py TRAIN TEST [--all-rows]

TRAIN is split as `tuneforge train` splits it with its defaults (10% held out, seed 42), so the baselines train
on the rows eval gives them; `--all-rows` trains them on every row of TRAIN.
"""

from __future__ import annotations

import argparse


def main() -> None:
    from tuneforge.config import DataOptions
    from tuneforge.data.formats import load_from_options
    from tuneforge.data.normalise import normalise_answer
    from tuneforge.data.split import split_examples
    from tuneforge.eval import classical
    from tuneforge.eval.embeddings import PackagedEncoder
    from tuneforge.models.calibration import calibration_error
    from tuneforge.models.packaged_encoders import preferred_packaged_encoder

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("train")
    ap.add_argument("test")
    ap.add_argument("--all-rows", action="store_true", help="train the baselines on every row of TRAIN")
    args = ap.parse_args()
    train = load_from_options(args.train, DataOptions())
    if not args.all_rows:
        train, _ = split_examples(train, 0.1, 42)
    test = load_from_options(args.test, DataOptions())
    rows = classical.rows_from_examples(train, args.train)
    texts, labels = [classical.input_text(e) for e in test], [normalise_answer(e.answer) for e in test]
    encoder = PackagedEncoder(preferred_packaged_encoder())
    for b in (classical.fit_tfidf(rows, 42), classical.fit_embedding(rows, encoder, 42)):
        preds, _, calibrated = classical.run_baseline(b, texts)
        raw = [float(p) for p in b.model.predict_proba(b.featurise(texts) if b.featurise else texts).max(axis=1)]
        right = [p == label for p, label in zip(preds, labels)]
        acc = sum(right) / len(right)
        cal = b.info["calibration"] or {}
        print(f"{b.name} ({b.info['features']}), {len(rows.texts)} training rows: T = {b.temperature:g} "
              f"(out-of-fold rows {cal.get('examples', 0)}, ECE there {100 * cal.get('ece_before', 0):.1f}% -> "
              f"{100 * cal.get('ece_after', 0):.1f}%); on {len(texts)} test rows: accuracy {100 * acc:.1f}%, "
              f"mean confidence {100 * sum(raw) / len(raw):.1f}% -> {100 * sum(calibrated) / len(calibrated):.1f}%, "
              f"ECE {100 * calibration_error(raw, right):.1f}% -> {100 * calibration_error(calibrated, right):.1f}%")


if __name__ == "__main__":
    main()
