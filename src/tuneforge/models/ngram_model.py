"""The n-gram half of a fused classification variant, stored without pickle.

A fused variant (models/fusion.py) carries the TF-IDF + logistic-regression pipeline of data/tfidf.py, fitted on
its training rows. Pickle would run code from the file on load, so the fitted pipeline is written as data: the
vectorisers' settings and vocabularies in `ngram_model.json`, their idf weights and the regression's
coefficients in `ngram_model.safetensors`; loading rebuilds the scikit-learn objects from them and answers as
the fitted pipeline did (tests/unit/test_ngram_fusion.py).

The pipeline's classes are the variant's label indices (as strings, "0", "1", ...), so its columns map onto the
head's labels without a second label list.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

NGRAM_JSON = "ngram_model.json"
NGRAM_WEIGHTS = "ngram_model.safetensors"
FORMAT = "tuneforge.ngram/1"
# TfidfVectorizer settings that change what transform computes; data/tfidf.py sets some, the rest are defaults.
VECTORISER_PARAMS = ("analyzer", "ngram_range", "sublinear_tf", "lowercase", "norm", "use_idf", "smooth_idf",
                     "token_pattern", "strip_accents", "binary")


@dataclass
class NgramModel:
    pipeline: object  # scikit-learn Pipeline: TF-IDF features (one vectoriser or a union of two) -> LogisticRegression
    features: str  # in words, e.g. "TF-IDF character 2-5-grams + word unigrams"

    @property
    def columns(self) -> list[int]:
        """The variant's label index of each of the regression's classes."""
        return [int(c) for c in self.pipeline.steps[-1][1].classes_]

    def log_probs(self, texts: list[str], n_labels: int):
        """(n, n_labels) numpy log-probabilities in the variant's label order; a label the n-gram rows never
        showed (only in the held-out split) gets a floor, not minus infinity."""
        import numpy as np
        from threadpoolctl import threadpool_limits

        out = np.full((len(texts), n_labels), 1e-6)
        if texts:
            with threadpool_limits(1):
                out[:, self.columns] = self.pipeline.predict_proba(texts)
        return np.log(np.clip(out, 1e-12, None))


def _vectorisers(pipeline) -> list:
    features = pipeline.steps[0][1]
    return [t for _, t in features.transformer_list] if hasattr(features, "transformer_list") else [features]


def save_ngram(model: NgramModel, folder: str | Path) -> None:
    import numpy as np
    from safetensors.numpy import save_file

    folder = Path(folder)
    regression = model.pipeline.steps[-1][1]
    tensors = {"coef": np.ascontiguousarray(regression.coef_), "intercept": np.ascontiguousarray(regression.intercept_)}
    vectorisers = []
    for i, vec in enumerate(_vectorisers(model.pipeline)):
        params = {k: getattr(vec, k) for k in VECTORISER_PARAMS}
        params["ngram_range"] = list(params["ngram_range"])
        vectorisers.append({"params": params, "vocabulary": {t: int(j) for t, j in vec.vocabulary_.items()}})
        tensors[f"idf.{i}"] = np.ascontiguousarray(vec.idf_)
    save_file(tensors, str(folder / NGRAM_WEIGHTS))
    (folder / NGRAM_JSON).write_text(json.dumps({
        "format": FORMAT, "features": model.features, "classes": [str(c) for c in regression.classes_],
        "vectorisers": vectorisers}, ensure_ascii=False), encoding="utf-8")


def has_ngram(folder: str | Path) -> bool:
    return (Path(folder) / NGRAM_JSON).is_file() and (Path(folder) / NGRAM_WEIGHTS).is_file()


def load_ngram(folder: str | Path) -> NgramModel:
    """Rebuild the fitted pipeline from its JSON and safetensors files (no pickle)."""
    import numpy as np
    from safetensors.numpy import load_file
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline, make_union

    from tuneforge.errors import UserError

    folder = Path(folder)
    spec = json.loads((folder / NGRAM_JSON).read_text(encoding="utf-8"))
    if spec.get("format") != FORMAT:
        raise UserError(f"unknown n-gram model format {spec.get('format')!r}", file=str(folder / NGRAM_JSON),
                        field="format")
    tensors = load_file(str(folder / NGRAM_WEIGHTS))
    vecs = []
    for i, v in enumerate(spec["vectorisers"]):
        params = dict(v["params"], ngram_range=tuple(v["params"]["ngram_range"]))
        vec = TfidfVectorizer(**params)
        vec.vocabulary_ = dict(v["vocabulary"])
        vec.fixed_vocabulary_ = False
        vec.idf_ = tensors[f"idf.{i}"]
        vecs.append(vec)
    regression = LogisticRegression()
    regression.classes_ = np.array(spec["classes"])
    regression.coef_, regression.intercept_ = tensors["coef"], tensors["intercept"]
    regression.n_features_in_ = regression.coef_.shape[1]
    features = make_union(*vecs) if len(vecs) > 1 else vecs[0]
    return NgramModel(make_pipeline(features, regression), spec["features"])
