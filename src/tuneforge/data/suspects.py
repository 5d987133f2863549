"""Suspicious labels: examples whose label the rest of the data disagrees with.

Each input becomes TF-IDF features of character 2-5-grams plus words (robust to the typos, abbreviations and
mixed languages of real business text). A logistic regression is trained five times, each time without a
fifth of the data, and scores the fifth it did not see (cross-validated probabilities). An example is a suspect
when the rest of the data gives its own label under 5% and one other label at least 60%: the classifier learned
from everyone else is confident the answer is something else. Nearest-neighbour voting was tried first and
flagged dozens of correct invoice lines whose nearest neighbours merely shared a language or a vendor.
The list is for a person to review, strongest disagreement first; nothing is changed automatically.
"""

from __future__ import annotations

import random

from tuneforge.data.findings import Finding, clip, input_text
from tuneforge.data.formats import Example
from tuneforge.data.normalise import normalise_answer
from tuneforge.data.outliers import majority_labels

MAX_OWN_PROBABILITY = 0.05
MIN_OTHER_PROBABILITY = 0.6
FOLDS = 5
MIN_EXAMPLES = 20
MAX_FIT_ROWS = 20_000  # rows each fold's classifier is fit on, at most
MAX_SCORED = 10_000  # rows scored; a larger data set is sampled


def _cross_validated_probabilities(texts: list[str], labels: list[str], seed: int):
    import numpy as np
    from sklearn.base import clone
    from sklearn.model_selection import KFold
    from threadpoolctl import threadpool_limits

    from tuneforge.data.tfidf import tfidf_classifier

    classes = sorted(set(labels))
    y = np.array(labels)
    probs = np.zeros((len(texts), len(classes)))
    # The features are learned once from every input (no labels involved), then each fold's classifier is fit
    # on its rows: the text analysis ran five times per row before, most of the time on large data.
    pipeline = tfidf_classifier(seed, tol=1e-3, max_iter=300)  # the one TF-IDF classifier (data/tfidf.py)
    classifier = pipeline.steps[-1][1]
    features = pipeline[:-1].fit_transform(texts).tocsr()
    rng = np.random.default_rng(seed)
    for train_idx, test_idx in KFold(FOLDS, shuffle=True, random_state=seed).split(texts):
        if len(set(y[train_idx])) < 2:
            continue
        if len(train_idx) > MAX_FIT_ROWS:  # enough to learn what the rest of the data says; bounded time
            train_idx = np.sort(rng.choice(train_idx, MAX_FIT_ROWS, replace=False))
        model = clone(classifier)
        # One BLAS thread: on a busy shared CPU, oversubscribed threads made this 20x slower.
        with threadpool_limits(1):
            model.fit(features[train_idx], y[train_idx])
        fold = model.predict_proba(features[test_idx])
        for col, cls in enumerate(model.classes_):
            probs[test_idx, classes.index(cls)] = fold[:, col]
    return classes, probs


def label_suspects(examples: list[Example], seed: int = 0) -> tuple[list[Finding], str | None, str | None]:
    """(every suspect, strongest disagreement first; why the step was skipped, or None; a note, or None).

    Past MAX_SCORED rows a seeded random sample is scored (the note says so): the list is a review queue of the
    strongest cases, and the text features of 100,000 rows took minutes.
    """
    if not majority_labels(examples):
        return [], "answers are not labels", None
    if len(examples) < MIN_EXAMPLES:
        return [], f"too few examples (under {MIN_EXAMPLES}) to score labels against the rest", None
    positions = range(len(examples))  # a range, not a list of every position (sample() draws the same from both)
    note = None
    if len(examples) > MAX_SCORED:
        positions = sorted(random.Random(seed).sample(positions, MAX_SCORED))
        note = f"scored a random sample of {MAX_SCORED:,} of {len(examples):,} examples"
    sample = [examples[i] for i in positions]
    labels = [normalise_answer(e.answer) for e in sample]
    texts = [input_text(e) or e.user_text for e in sample]
    classes, probs = _cross_validated_probabilities(texts, labels, seed)
    out = []
    for k, ex in enumerate(sample):
        own = probs[k, classes.index(labels[k])]
        ranked = sorted(((p, c) for c, p in zip(classes, probs[k]) if c != labels[k]), reverse=True)
        if not ranked:
            continue
        other_p, other = ranked[0]
        if own < MAX_OWN_PROBABILITY and other_p >= MIN_OTHER_PROBABILITY:
            out.append(Finding(
                [positions[k]], f"line {ex.line}: {clip(input_text(ex), 50)!r} is labelled {labels[k]!r}, but the "
                f"rest of the data says {other!r} ({other_p:.0%}; own label {own:.0%})", [ex.line],
                float(other_p - own), {"label": labels[k], "data_says": other}))
    out.sort(key=lambda f: -f.score)
    return out, None, note
