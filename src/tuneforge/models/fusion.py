"""Late fusion of a classification head with an n-gram model: the fused variant's probabilities, in one place.

A fine-tuned sentence encoder reads meaning; TF-IDF character n-grams read spelling, codes and the words of
languages the encoder never saw. Each is right where the other is wrong often enough that a weighted mean of
their log-probabilities beats both on validation splits of the benchmark's training files (docs/training.md):

    score = w * log softmax(head logits / T_head) + (1 - w) * log p_ngram
    probabilities = softmax(score / T_fused)

T_head is the head's own calibrated temperature; w and T_fused are chosen on the held-out split at training time
(train/ngram_fusion.py) and stored in run.json `fusion`. Predict, eval, the server, the monitor and export read a
variant's probabilities through `Classifier.probabilities` (models/classifier.py), which applies this.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tuneforge.models.ngram_model import NgramModel, has_ngram, load_ngram


@dataclass
class Fusion:
    ngram: NgramModel
    weight: float  # the head's share of the log-probability mean; 1 - weight is the n-gram model's
    temperature: float = 1.0  # T_fused

    def scores(self, head_logits, head_temperature: float, texts: list[str]):
        """Fused scores (n, labels) as a numpy array; softmax(scores / temperature) are the probabilities."""
        import numpy as np

        return fused_scores(np.asarray(head_logits, dtype="float64"), head_temperature,
                            self.ngram.log_probs(texts, np.shape(head_logits)[1]), self.weight)

    def probabilities(self, head_logits, head_temperature: float, texts: list[str]) -> list[list[float]]:
        from scipy.special import softmax

        return softmax(self.scores(head_logits, head_temperature, texts) / self.temperature, axis=1).tolist()


def fused_scores(head_logits, head_temperature: float, ngram_log_probs, weight: float):
    from scipy.special import log_softmax

    return weight * log_softmax(head_logits / head_temperature, axis=1) + (1 - weight) * ngram_log_probs


def load_fusion(folder: str | Path, run: dict) -> Fusion | None:
    """The fusion a run (or an exported folder) records, or None when it has none."""
    record = run.get("fusion")
    if not record:
        return None
    if not has_ngram(folder):
        from tuneforge.errors import UserError

        raise UserError("run.json records a fused variant but its n-gram model files are missing", file=str(folder),
                        field="fusion", hint="copy the whole run folder, or retrain")
    return Fusion(load_ngram(folder), float(record["weight"]), float(record.get("temperature") or 1.0))
