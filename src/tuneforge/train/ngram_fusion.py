"""Train the n-gram half of a fused classification variant and choose its weight on the held-out split.

After the head is trained and calibrated (train/classification.py), the TF-IDF + logistic-regression classifier
of data/tfidf.py is fitted on the same training rows (never the held-out ones), and the two are fused as
models/fusion.py describes. The weight w (the head's share) is chosen on the held-out split by log-loss when it
has at least FUSION_MIN_HELD_OUT rows; below that a choice would follow a handful of rows, so the fixed weight
--classifier-fusion-weight is used: measured per base on validation splits of the benchmark's training files
(docs/training.md) and set by the no-flag rules (train/defaults.py, train/encoder_defaults.py). The
fused scores' temperature is then fitted on the held-out rows (when there are any), and the record carries the
served probabilities' expected calibration error and log-loss before and after it (models/calibration.py).
"""

from __future__ import annotations

from pathlib import Path

FUSION_MIN_HELD_OUT = 200  # held-out rows needed to choose the weight on them
FUSION_GRID = tuple(i / 10 for i in range(11))


def fusion_notes(cfg, unset, weight: float) -> list[str]:
    """The no-flag rule's line for fusion (the config default is on; a user's --no-classifier-fusion is kept);
    `weight` is the fixed weight chosen for the base."""
    if not unset("classifier_fusion") or not cfg.classifier_fusion:
        return []
    return [f"classifier_fusion=True (the head's probabilities fused with a TF-IDF n-gram logistic regression on "
            f"the same rows, weight chosen on the held-out split from {FUSION_MIN_HELD_OUT} rows, else "
            f"classifier_fusion_weight={weight:g}: measured on validation splits of the benchmark's training files, "
            "docs/training.md; --no-classifier-fusion for the head alone)"]


def choose_weight(head_logits, head_temperature: float, ngram_log_probs, targets: list[int], fixed: float,
                  min_rows: int | None = None) -> tuple[float, str]:
    """(weight, how it was chosen): the grid weight whose fused scores, temperature-scaled, have the lowest
    held-out log-loss (ties: the one nearest `fixed`); `fixed` when there are fewer than `min_rows` held-out rows."""
    import numpy as np

    from tuneforge.models.calibration import fit_temperature, nll
    from tuneforge.models.fusion import fused_scores

    min_rows = FUSION_MIN_HELD_OUT if min_rows is None else min_rows
    if len(targets) < max(min_rows, 1):
        return fixed, (f"fixed, as measured on validation splits: choosing it takes {min_rows} held-out rows, "
                       f"and there are {len(targets)}")
    losses = {}
    for w in FUSION_GRID:
        scores = fused_scores(np.asarray(head_logits), head_temperature, ngram_log_probs, w).tolist()
        losses[w] = nll(scores, targets, fit_temperature(scores, targets))
    best = min(FUSION_GRID, key=lambda w: (losses[w], abs(w - fixed)))
    return best, f"chosen on {len(targets)} held-out rows by log-loss ({losses[best]:.4f})"


def train_fusion(texts: list[str], targets: list[int], eval_texts: list[str], eval_targets: list[int],
                 eval_logits: list, head_temperature: float, n_labels: int, out: Path, seed: int, fixed: float,
                 min_rows: int | None = None, log=print) -> dict:
    """Fit, choose and save the n-gram half next to the head; return run.json's `fusion` record."""
    import numpy as np

    from tuneforge.data.tfidf import fit_tfidf_classifier
    from tuneforge.models.calibration import calibrate, describe
    from tuneforge.models.fusion import fused_scores
    from tuneforge.models.ngram_model import NgramModel, save_ngram

    pipeline, features, cv = fit_tfidf_classifier(texts, [str(t) for t in targets], seed)
    ngram = NgramModel(pipeline, features)
    held_logp = ngram.log_probs(eval_texts, n_labels)
    weight, how = choose_weight(eval_logits, head_temperature, held_logp, eval_targets, fixed, min_rows)
    record = {"weight": weight, "weight_chosen": how, "temperature": 1.0, "ngram": features,
              "ngram_train_examples": len(texts), "held_out": len(eval_targets)}
    served = None
    if eval_targets:
        scores = fused_scores(np.asarray(eval_logits), head_temperature, held_logp, weight)
        # The served probabilities' own calibration (run.json `calibration` is the head's alone): T_fused, and
        # ECE and log-loss of softmax(scores) before and of softmax(scores / T_fused) after.
        served = calibrate(scores.tolist(), eval_targets)
        record.update({k: served[k] for k in ("temperature", "ece_before", "ece_after", "nll_before", "nll_after")})
        y = np.asarray(eval_targets)
        record["held_out_accuracy"] = {
            "head": float((np.argmax(eval_logits, 1) == y).mean()),
            "ngram": float((np.argmax(held_logp, 1) == y).mean()),
            "fused": float((np.argmax(scores, 1) == y).mean())}
    save_ngram(ngram, out)
    acc = record.get("held_out_accuracy")
    log(f"fusion: head x {weight:g} + {features} + logistic regression x {1 - weight:g} ({how})"
        + ("" if not acc else f"; held-out accuracy head {100 * acc['head']:.1f}%, n-grams {100 * acc['ngram']:.1f}%, "
           f"fused {100 * acc['fused']:.1f}%") + "; --no-classifier-fusion for the head alone")
    if served:
        log(f"calibration (served: head fused with n-grams): {describe(served)}")
    return record
