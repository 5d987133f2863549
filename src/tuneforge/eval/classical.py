"""Non-LLM baselines for classification: the honest alternative a variant must beat.

Two classifiers, each trained on the very rows the variant was trained on (its training split, never its
held-out rows) and timed:

- TF-IDF of character and word n-grams + logistic regression (`data/tfidf.py`), about a second on a CPU;
- sentence embeddings (`eval/embeddings.py`) + logistic regression.

A fitted baseline answers with a label's surface form, so the evaluation scores it like any other system. The
evaluation, and later the benchmark and the monitor, use these functions; nothing else fits them.

Each baseline's probabilities are temperature-scaled as the variant's are (models/calibration.py), so that the
evaluation's calibration table compares like with like. A baseline has no held-out split of its own (the
variant's held-out rows are not its to use), so its temperature is fitted on out-of-fold probabilities of its own
training rows (CALIBRATION_FOLDS-fold). Uncalibrated, logistic regression over 12 labels' sparse n-grams stated
37% where it was right 77% of the time on the invoice demo (ECE 39.5%), which said more about the missing
calibration than about the classifier. Labels are unchanged: a temperature never moves the argmax.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from tuneforge.config import DataOptions, TrainConfig
from tuneforge.data.formats import Example, dataset_hash, load_from_options
from tuneforge.data.normalise import normalise_answer
from tuneforge.data.split import split_examples
from tuneforge.data.versions import resolve_data_path

KIND = "classical"  # eval.json's system kind for these baselines
CALIBRATION_FOLDS = 3
TFIDF_NAME = "tf-idf + logistic regression"
EMBEDDING_NAME = "embeddings + logistic regression"


@dataclass
class Baseline:
    name: str
    method: str  # "tfidf" | "embedding"
    model: object  # scikit-learn estimator over features
    featurise: object = None  # texts -> features; None: the estimator takes raw texts
    info: dict = field(default_factory=dict)  # fit_s, train_examples, encoder, calibration, ...
    temperature: float = 1.0  # applied to the log-probabilities (fit_baseline_temperature)

    def predict(self, texts: list[str]) -> list[str]:
        return self.predict_with_confidence(texts)[0]

    def predict_with_confidence(self, texts: list[str]) -> tuple[list[str], list[float]]:
        """Labels and the calibrated probability of each: the logistic regression's argmax, so the same labels
        `predict` of scikit-learn gives."""
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):
            probs = self.model.predict_proba(self.featurise(texts) if self.featurise else texts)
        probs = _tempered(probs, self.temperature)
        best = probs.argmax(axis=1)
        return [str(self.model.classes_[i]) for i in best], [float(p[i]) for p, i in zip(probs, best)]


def _log_probs(probs) -> list[list[float]]:
    """Logistic regression's probabilities as logits: p = softmax(decision scores), so log p are those scores less
    a per-row constant, which softmax ignores."""
    import numpy as np

    return np.log(np.clip(probs, 1e-12, 1.0)).tolist()


def _tempered(probs, temperature: float):
    """The probabilities at temperature T: models/calibration.py's softmax of the logits / T."""
    import numpy as np

    from tuneforge.models.calibration import softmax_rows

    return probs if temperature == 1.0 else np.array(softmax_rows(_log_probs(probs), temperature))


def fit_baseline_temperature(model, features, labels: list[str], seed: int = 0) -> tuple[float, dict | None]:
    """(T, calibration report) for a fitted baseline: the temperature that best fits the out-of-fold probabilities
    of copies of `model` refitted on the other folds of its own training rows. Rows of a label too rare to be in
    every fold sit out (a fold model that never saw their label would give them probability 0, which only a
    flat T could excuse); (1.0, None) when fewer than two labels are left."""
    from collections import Counter

    from sklearn.base import clone
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from threadpoolctl import threadpool_limits

    from tuneforge.models.calibration import calibrate

    counts = Counter(labels)
    keep = [i for i, label in enumerate(labels) if counts[label] >= CALIBRATION_FOLDS]
    kept = [labels[i] for i in keep]
    if len(set(kept)) < 2:
        return 1.0, None
    rows = features[keep] if hasattr(features, "shape") else [features[i] for i in keep]
    folds = StratifiedKFold(CALIBRATION_FOLDS, shuffle=True, random_state=seed)
    with threadpool_limits(1):
        probs = cross_val_predict(clone(model), rows, kept, cv=folds, method="predict_proba")
    index = {label: i for i, label in enumerate(sorted(set(kept)))}  # cross_val_predict's column order
    report = calibrate(_log_probs(probs), [index[label] for label in kept])
    return report["temperature"], {**report, "method": f"temperature, {CALIBRATION_FOLDS}-fold out-of-fold",
                                   "left_out_rare_label_rows": len(labels) - len(keep)}


@dataclass
class TrainingRows:
    texts: list[str]
    labels: list[str]  # normalised labels
    source: str
    note: str | None = None  # e.g. the data changed since the run


def input_text(example: Example) -> str:
    return example.user_text


def variant_training_rows(run: dict) -> TrainingRows:
    """The rows a run trained on, rebuilt as training built them: same file (or dataset version), same reader
    options, same seeded split — so no held-out row leaks into the baselines."""
    data = run.get("data") or {}
    config = run.get("config") or {}
    source = data.get("version") or data.get("path")
    if not source:
        raise ValueError("run.json records no training data (data.path); pass --train-data")
    path, _ = resolve_data_path(source)
    if not Path(path).is_file():
        raise FileNotFoundError(f"{source}: the variant's training data is gone; pass --train-data")
    options = DataOptions(**{k: config[k] for k in DataOptions.model_fields if k in config})
    examples = load_from_options(path, options)
    note = None
    if data.get("hash") and dataset_hash(examples) != data["hash"]:
        note = f"{path} changed since the variant was trained; the baselines trained on its current rows"
    if not data.get("eval_path"):
        defaults = TrainConfig.model_fields
        examples, _ = split_examples(examples, float(config.get("eval_split", defaults["eval_split"].default)),
                                     int(config.get("seed", defaults["seed"].default)))
    return TrainingRows([input_text(e) for e in examples], [normalise_answer(e.answer) for e in examples],
                        str(path), note)


def rows_from_examples(examples: list[Example], source: str) -> TrainingRows:
    return TrainingRows([input_text(e) for e in examples], [normalise_answer(e.answer) for e in examples], source)


def fit_tfidf(rows: TrainingRows, seed: int = 0) -> Baseline:
    from tuneforge.data.tfidf import fit_tfidf_classifier

    t0 = time.perf_counter()
    model, features, cv = fit_tfidf_classifier(rows.texts, rows.labels, seed)
    temperature, calibration = fit_baseline_temperature(model, rows.texts, rows.labels, seed)
    fit_s = time.perf_counter() - t0
    return Baseline(TFIDF_NAME, "tfidf", model, None, {
        "features": features, "cv_accuracy": cv, "fit_s": fit_s, "train_examples": len(rows.texts),
        "calibration": calibration}, temperature)


def fit_embedding(rows: TrainingRows, encoder, seed: int = 0) -> Baseline:
    """Logistic regression on standardised sentence embeddings; fit time includes encoding the training texts."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    t0 = time.perf_counter()
    features = encoder.encode(rows.texts)
    model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000, random_state=seed))
    with threadpool_limits(1):
        model.fit(features, rows.labels)
    temperature, calibration = fit_baseline_temperature(model, features, rows.labels, seed)
    fit_s = time.perf_counter() - t0
    return Baseline(EMBEDDING_NAME, "embedding", model, encoder.encode, {
        "features": f"{encoder.name} ({features.shape[1]} dimensions)", "encoder": encoder.name, "fit_s": fit_s,
        "train_examples": len(rows.texts), "calibration": calibration}, temperature)


def run_baseline(baseline: Baseline, texts: list[str]) -> tuple[list[str], float, list[float]]:
    """(normalised labels, seconds for all texts, each label's probability)."""
    t0 = time.perf_counter()
    preds, confidences = baseline.predict_with_confidence(texts)
    return preds, time.perf_counter() - t0, confidences


def can_fit(rows: TrainingRows) -> str | None:
    """Why no classifier can be trained on these rows, or None."""
    if len(set(rows.labels)) < 2:
        return "the training data has fewer than two labels"
    return None
