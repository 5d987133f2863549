"""Serving a classification variant through the server's labeler hook (serve/labels.py).

A classification variant answers with the argmax label and nothing else; `label_probs` gives the server the
calibrated probability of every label, which it turns into the answer and, when asked, into `logprobs` /
`top_logprobs` (each label counts as one "token": the head scores whole labels). The head reads the same input
as in training (`classifier_input`: the user turns' text), so a system prompt in the request changes nothing.
"""

from __future__ import annotations

import threading

from tuneforge.models.classifier import classifier_input, load_classifier


class ClassifierLabeler:
    def __init__(self, run_dir: str, dtype: str = "float32", **_engine_options):
        self.classifier = load_classifier(run_dir, dtype=dtype)
        self._lock = threading.Lock()  # requests arrive on several worker threads; the model runs one at a time

    def label_probs(self, messages: list[dict]) -> dict[str, float]:
        with self._lock:
            probs = self.classifier.probabilities([classifier_input(messages)])[0]
        return dict(zip(self.classifier.labels, probs))

    def prompt_tokens(self, messages: list[dict]) -> int:
        """Tokens the head read for this conversation (the request's `usage.prompt_tokens`)."""
        with self._lock:  # the tokenizer is shared with label_probs (a fast tokenizer is not re-entrant)
            return len(self.classifier.tokenizer(classifier_input(messages), truncation=True,
                                                 add_special_tokens=self.classifier.special_tokens)["input_ids"])

    def close(self) -> None:
        pass
