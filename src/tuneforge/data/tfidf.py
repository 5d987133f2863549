"""The TF-IDF + logistic regression text classifier, in one place: the data workbench uses it to find
suspicious labels, the evaluation as the non-LLM baseline every variant must beat.

Features are TF-IDF of character 2-5-grams (within word boundaries) plus word unigrams: robust to the typos,
abbreviations, codes and mixed languages of business text, where word n-grams alone miss most of the signal
(on the invoice demo, character n-grams scored 78.7% and word n-grams 61.1%; issue 9).
"""

from __future__ import annotations


def tfidf_classifier(seed: int = 0, words: bool = True, tol: float = 1e-4, max_iter: int = 1000):
    """An unfitted scikit-learn pipeline: text in, label out (`fit(texts, labels)`, `predict(texts)`).

    `words=False` keeps the character n-grams only: on short, code-like inputs the word features mostly add
    noise (invoice demo: 78.7% without them, 72.2% with them). A looser `tol` trades a little accuracy for
    speed where many models are fitted (the suspects' cross-validation).
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline, make_union

    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)
    features = make_union(chars, TfidfVectorizer(analyzer="word", sublinear_tf=True)) if words else chars
    return make_pipeline(features, LogisticRegression(C=10, max_iter=max_iter, tol=tol, random_state=seed))
