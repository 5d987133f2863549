"""Would a neighbour vote lift the fused classification variant? Studied offline on `classification_ablation.py
--dump` folders: no retraining, the test file never read.

Per dumped split it scores the validation rows with the fused variant as `train` builds it (the head at its last
epoch, temperature-scaled, x 0.8 + the TF-IDF n-gram model x 0.2, models/fusion.py), and with that score plus
lambda x a third opinion's log-probabilities:
- `knnTAU`: a soft nearest-neighbour vote over the fine-tuned encoder's pooled states of the training rows
  (the last epoch's, from *-states.json): each label's log of sum exp(cosine / TAU) over its training rows;
- with --frozen, `frozen`: the untouched multilingual-e5-small + logistic regression fitted on the same training
  rows (the model of eval/classical.py's `fit_embedding`, refitted here so that the training rows are encoded once
  for it and the vote; its probabilities are not temperature-scaled as the eval's baseline's are), and
  `frozenknn`: the vote over its embeddings.
Prints the validation rows each rule gets right, per split and in total.

    python benchmarks/classification_ablation.py TRAIN "base=minilm,encoder=multilingual-e5-small,lr=1e-4,\
freeze_emb=1,lp=1" --epochs E --seeds S --no-baselines --keep 0.9 --select-held-out --dump DUMPS/TASK
    python benchmarks/neighbour_vote.py DUMPS [--frozen]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

FLOOR = 1e-4  # a label no neighbour votes for gets this probability, so one opinion alone cannot veto it


def vote_log_probs(train_states, train_labels, states, n_labels: int, tau: float):
    import numpy as np
    from scipy.special import logsumexp

    tr = train_states / np.linalg.norm(train_states, axis=1, keepdims=True)
    va = states / np.linalg.norm(states, axis=1, keepdims=True)
    sim = va @ tr.T / tau
    out = np.full((len(va), n_labels), -np.inf)
    for c in range(n_labels):
        mine = np.asarray(train_labels) == c
        if mine.any():
            out[:, c] = logsumexp(sim[:, mine], axis=1)
    return np.maximum(out - logsumexp(out, axis=1, keepdims=True), np.log(FLOOR))


def score_split(dump: Path, encoder) -> dict:
    import numpy as np
    from scipy.special import log_softmax

    from tuneforge.data.tfidf import fit_tfidf_classifier
    from tuneforge.models.calibration import fit_temperature
    from tuneforge.models.fusion import fused_scores
    from tuneforge.models.ngram_model import NgramModel
    from tuneforge.train.encoder_defaults import E5_FUSION_WEIGHT  # the no-flag variant's fixed weight

    d = json.loads(dump.read_text())
    states = json.loads(dump.with_name(dump.stem + "-states.json").read_text())
    z = np.asarray(d["logits"]["last"], dtype="float64")
    n_labels, vy = z.shape[1], np.asarray(d["vy"])
    temperature = fit_temperature(d["logits"]["last"], d["vy"])
    pipeline, features, _ = fit_tfidf_classifier(d["texts"], [str(i) for i in d["y"]], d["split"])
    fused = fused_scores(z, temperature, NgramModel(pipeline, features).log_probs(d["vtexts"], n_labels),
                          E5_FUSION_WEIGHT)
    rules = {"head": log_softmax(z / temperature, 1), "fused": fused}
    train_states, val_states = np.asarray(states["train"]), np.asarray(states["validation"])
    for tau in (0.02, 0.05):
        vote = vote_log_probs(train_states, d["y"], val_states, n_labels, tau)
        rules[f"knn{tau:g}"] = vote
        for lam in (0.2, 0.4):
            rules[f"fused+{lam:g}knn{tau:g}"] = fused + lam * vote
    if encoder is not None:
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        ftr, fva = encoder.encode(d["texts"]), encoder.encode(d["vtexts"])
        lr = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000, random_state=0)).fit(ftr, d["y"])
        frozen = np.full((len(fva), n_labels), np.log(FLOOR))
        frozen[:, lr.classes_] = np.log(np.maximum(lr.predict_proba(fva), FLOOR))
        rules["frozen"] = frozen
        for lam in (0.2, 0.4):
            rules[f"fused+{lam:g}frozen"] = fused + lam * frozen
        rules["frozenknn"] = vote_log_probs(ftr, d["y"], fva, n_labels, 0.05)
        rules["fused+0.2frozenknn"] = fused + 0.2 * rules["frozenknn"]
    right = {k: int((np.argmax(v, 1) == vy).sum()) for k, v in rules.items()}
    return {"task": dump.parent.name, "split": d["split"], "rows": len(vy), **right}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dumps", help="a folder of per-task --dump folders")
    ap.add_argument("--frozen", action="store_true", help="also the untouched e5 + LR and its neighbour vote")
    args = ap.parse_args()
    encoder = None
    if args.frozen:
        from tuneforge.eval.embeddings import PackagedEncoder

        encoder = PackagedEncoder("multilingual-e5-small")
    rows = [score_split(p, encoder) for p in sorted(Path(args.dumps).glob("*/*-split*.json"))
            if not p.name.endswith("-states.json")]
    keys = [k for k in rows[0] if k not in ("task", "split")]
    print("task split " + " ".join(keys))
    for r in rows:
        print(f"{r['task']} {r['split']} " + " ".join(str(r[k]) for k in keys))
    print("TOTAL " + " ".join(f"{k}={sum(r[k] for r in rows)}" for k in keys))


if __name__ == "__main__":
    main()
