"""Drift statistics between the training data (reference) and a window of traffic (current).

The choice of test follows Evidently's defaults by sample size: for a categorical column (the predicted label)
a chi-square test when the reference has at most 1,000 rows, else the Jensen-Shannon distance against a
threshold; for a numeric column (input length) the two-sample Kolmogorov-Smirnov test up to 1,000 rows, else
the Wasserstein distance in units of the reference's standard deviation. PSI (population stability index) is
reported beside them for length and vocabulary, and a domain classifier's ROC AUC (can a model tell reference
inputs from traffic inputs?) measures drift of the inputs as a whole in a TF-IDF + SVD embedding space.

PSI has no closed-form null distribution and its usual 0.1/0.25 rules of thumb ignore sample size (a window of
50 requests has a large PSI on unchanged data): `psi_test` and `vocabulary_psi_test` add a permutation test
(monitor/intervals.py) giving the p-value and the PSI that same-distribution samples of these sizes exceed only
5% of the time.
"""

from __future__ import annotations

import math
import re
from collections import Counter

SMALL_SAMPLE = 1000  # Evidently's switch from statistical tests to distances
PSI_EPS = 1e-4
_WORD = re.compile(r"\w+", re.UNICODE)


def _distribution(counts: dict[str, int], categories: list[str]) -> list[float]:
    total = sum(counts.get(c, 0) for c in categories) or 1
    return [counts.get(c, 0) / total for c in categories]


def label_drift(reference: dict[str, int], current: dict[str, int], known: list[str] | None = None) -> dict:
    """Predicted-label distribution of a window against a reference distribution (monitor/reference.py: the
    variant's own answers on reference data, else the training labels). Categories new in the window count (a
    new category is drift; one of the `known` labels that the reference merely lacks is not reported as new);
    `drifted` follows the sample-size rule above."""
    from scipy.spatial.distance import jensenshannon
    from scipy.stats import chi2_contingency

    cats = sorted(set(reference) | set(current))
    n_ref, n_cur = sum(reference.values()), sum(current.values())
    p, q = _distribution(reference, cats), _distribution(current, cats)
    js = float(jensenshannon(p, q, base=2)) if n_ref and n_cur else 0.0
    out = {"js_distance": js, "n_reference": n_ref, "n_current": n_cur,
           "new_categories": sorted(c for c in current if c not in reference and c not in (known or ())
                                     and current[c]),
           "test": "chi-square" if n_ref <= SMALL_SAMPLE else "jensen-shannon", "p_value": None}
    table = [[reference.get(c, 0) for c in cats], [current.get(c, 0) for c in cats]]
    keep = [j for j in range(len(cats)) if table[0][j] + table[1][j] > 0]
    if n_ref and n_cur and len(keep) > 1:
        out["p_value"] = float(chi2_contingency([[row[j] for j in keep] for row in table])[1])
    return out


def numeric_drift(reference: list[float], current: list[float]) -> dict:
    from scipy.stats import ks_2samp, wasserstein_distance

    sizes = {"n_reference": len(reference), "n_current": len(current)}
    if not reference or not current:
        return {"test": None, "p_value": None, "distance": None, **sizes}
    if len(reference) <= SMALL_SAMPLE:
        return {"test": "kolmogorov-smirnov", "p_value": float(ks_2samp(reference, current).pvalue),
                "distance": None, **sizes}
    sd = (sum((x - sum(reference) / len(reference)) ** 2 for x in reference) / len(reference)) ** 0.5 or 1.0
    return {"test": "wasserstein", "p_value": None, "distance": float(wasserstein_distance(reference, current) / sd),
            **sizes}


def psi(reference: list[float], current: list[float], bins: int = 10) -> float:
    """Population stability index over the reference's quantile bins (0.1: minor shift, 0.25: major)."""
    import numpy as np

    if len(reference) == 0 or len(current) == 0:
        return 0.0
    edges = np.unique(np.quantile(np.asarray(reference, float), np.linspace(0, 1, bins + 1)))
    if len(edges) < 2:
        edges = np.array([np.min(reference) - 0.5, np.max(reference) + 0.5])
    edges[0], edges[-1] = -np.inf, np.inf
    r = np.histogram(reference, edges)[0] / len(reference)
    c = np.histogram(current, edges)[0] / len(current)
    return _psi_terms(r, c)


def _psi_terms(r, c) -> float:
    import numpy as np

    r, c = np.clip(np.asarray(r, float), PSI_EPS, None), np.clip(np.asarray(c, float), PSI_EPS, None)
    return float(np.sum((c - r) * np.log(c / r)))


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def vocabulary_psi(reference: list[str], current: list[str], top: int = 50) -> float:
    """PSI of word-occurrence shares over the reference's `top` words plus one bucket for all other words."""
    ref_counts = Counter(w for t in reference for w in words(t))
    cur_counts = Counter(w for t in current for w in words(t))
    vocab = [w for w, _ in ref_counts.most_common(top)]
    known = set(vocab)

    def shares(counts: Counter) -> list[float]:
        total = sum(counts.values()) or 1
        return [counts[w] / total for w in vocab] + [sum(v for w, v in counts.items() if w not in known) / total]

    return _psi_terms(shares(ref_counts), shares(cur_counts))


def psi_test(reference: list[float], current: list[float], seed: int = 0, rounds: int | None = None) -> dict:
    """Length PSI with its permutation p-value and same-distribution threshold at these sample sizes."""
    import numpy as np

    from tuneforge.monitor.intervals import PERMUTATIONS, permutation_test

    sizes = {"n_reference": len(reference), "n_current": len(current), "test": "permutation"}
    if not reference or not current:
        return {"value": None, "p_value": None, "threshold": None, **sizes}
    pooled = np.asarray(list(reference) + list(current), float)
    observed = psi(reference, current)
    perm = permutation_test(lambda r, c: psi(pooled[r], pooled[c]), len(pooled), len(reference), observed, seed,
                            rounds or PERMUTATIONS)
    return {"value": observed, **perm, **sizes}


def _vocabulary_psi_counts(ref_counts, cur_counts, top: int) -> float:
    """PSI from two word-count vectors over one vocabulary: the reference's `top` words plus 'other words'."""
    import numpy as np

    order = np.argsort(-ref_counts, kind="stable")[:top]
    order = order[ref_counts[order] > 0]
    share = lambda c: np.append(c[order], c.sum() - c[order].sum()) / max(c.sum(), 1)  # noqa: E731
    return _psi_terms(share(ref_counts), share(cur_counts))


def vocabulary_psi_test(reference: list[str], current: list[str], top: int = 50, seed: int = 0,
                        rounds: int | None = None) -> dict:
    """Vocabulary PSI with its permutation p-value and threshold; texts (not words) are permuted, since the words
    of one request are not independent."""
    import numpy as np
    from scipy.sparse import csr_matrix

    from tuneforge.monitor.intervals import PERMUTATIONS, permutation_test

    sizes = {"n_reference": len(reference), "n_current": len(current), "test": "permutation"}
    if not reference or not current:
        return {"value": None, "p_value": None, "threshold": None, **sizes}
    index: dict[str, int] = {}
    rows, cols, vals = [], [], []
    for i, text in enumerate(list(reference) + list(current)):
        for w, c in Counter(words(text)).items():
            rows.append(i)
            cols.append(index.setdefault(w, len(index)))
            vals.append(c)
    n = len(reference) + len(current)
    words_by_text = csr_matrix((vals, (cols, rows)), shape=(max(len(index), 1), n), dtype=float)
    total = np.asarray(words_by_text.sum(1)).ravel()

    def stat(r, c) -> float:  # one sparse matrix-vector product per split: word counts of the reference side
        side = np.zeros(n)
        side[r] = 1.0
        ref_counts = words_by_text @ side
        return _vocabulary_psi_counts(ref_counts, total - ref_counts, top)

    observed = stat(np.arange(len(reference)), np.arange(len(reference), n))  # = vocabulary_psi(reference, current)
    perm = permutation_test(stat, n, len(reference), observed, seed, rounds or PERMUTATIONS)
    return {"value": observed, **perm, **sizes}


def domain_classifier_auc(reference: list[str], current: list[str], seed: int = 0, folds: int = 5) -> dict:
    """Cross-validated ROC AUC of a classifier telling reference inputs from current ones (0.5: same
    distribution). Inputs are embedded with character n-gram TF-IDF reduced by SVD (no model download); the
    interval is Hanley & McNeil's normal approximation."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline

    # Repeated requests would sit in both training and test folds and be recognised by heart: count each once.
    reference, current = list(dict.fromkeys(reference)), list(dict.fromkeys(current))
    n_ref, n_cur = len(reference), len(current)
    if min(n_ref, n_cur) < folds:
        return {"auc": None, "ci": None, "n_reference": n_ref, "n_current": n_cur}
    texts, y = list(reference) + list(current), [0] * n_ref + [1] * n_cur
    pipe = make_pipeline(
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), min_df=2, sublinear_tf=True),
        TruncatedSVD(n_components=min(64, len(texts) // 4), random_state=seed),
        LogisticRegression(max_iter=1000, class_weight="balanced"),
    )
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    scores = cross_val_predict(pipe, texts, y, cv=cv, method="predict_proba")[:, 1]
    auc = float(roc_auc_score(y, scores))
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    se = math.sqrt(max(auc * (1 - auc) + (n_cur - 1) * (q1 - auc ** 2) + (n_ref - 1) * (q2 - auc ** 2), 0)
                   / (n_ref * n_cur))
    return {"auc": auc, "ci": [max(0.0, auc - 1.96 * se), min(1.0, auc + 1.96 * se)], "n_reference": n_ref,
            "n_current": n_cur, "method": f"{folds}-fold cross-validated ROC AUC, Hanley-McNeil interval"}
