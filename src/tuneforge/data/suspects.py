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

from tuneforge.data.findings import Finding, clip, input_text
from tuneforge.data.formats import Example
from tuneforge.data.normalise import normalise_answer
from tuneforge.data.outliers import majority_labels

MAX_OWN_PROBABILITY = 0.05
MIN_OTHER_PROBABILITY = 0.6
FOLDS = 5
MIN_EXAMPLES = 20


def _cross_validated_probabilities(texts: list[str], labels: list[str], seed: int):
    import numpy as np
    from sklearn.model_selection import KFold
    from threadpoolctl import threadpool_limits

    from tuneforge.data.tfidf import tfidf_classifier

    classes = sorted(set(labels))
    y = np.array(labels)
    probs = np.zeros((len(texts), len(classes)))
    for train_idx, test_idx in KFold(FOLDS, shuffle=True, random_state=seed).split(texts):
        if len(set(y[train_idx])) < 2:
            continue
        model = tfidf_classifier(seed, tol=1e-3, max_iter=300)
        # One BLAS thread: on a busy shared CPU, oversubscribed threads made this 20x slower.
        with threadpool_limits(1):
            model.fit([texts[i] for i in train_idx], y[train_idx])
        fold = model.predict_proba([texts[i] for i in test_idx])
        for col, cls in enumerate(model.classes_):
            probs[test_idx, classes.index(cls)] = fold[:, col]
    return classes, probs


def label_suspects(examples: list[Example], top: int = 20, seed: int = 0) -> tuple[list[Finding], str | None]:
    """(suspects sorted by disagreement, at most `top`; the reason the step was skipped, or None)."""
    if not majority_labels([e.answer for e in examples]):
        return [], "answers are not labels"
    if len(examples) < MIN_EXAMPLES:
        return [], f"too few examples (under {MIN_EXAMPLES}) to score labels against the rest"
    labels = [normalise_answer(e.answer) for e in examples]
    texts = [input_text(e) or e.user_text for e in examples]
    classes, probs = _cross_validated_probabilities(texts, labels, seed)
    out = []
    for i, ex in enumerate(examples):
        own = probs[i, classes.index(labels[i])]
        ranked = sorted(((p, c) for c, p in zip(classes, probs[i]) if c != labels[i]), reverse=True)
        if not ranked:
            continue
        other_p, other = ranked[0]
        if own < MAX_OWN_PROBABILITY and other_p >= MIN_OTHER_PROBABILITY:
            out.append(Finding(
                [i], f"line {ex.line}: {clip(input_text(ex), 50)!r} is labelled {labels[i]!r}, but the rest of the "
                f"data says {other!r} ({other_p:.0%}; own label {own:.0%})", [ex.line], float(other_p - own),
                {"label": labels[i], "data_says": other}))
    out.sort(key=lambda f: -f.score)
    return out[:top], None
