"""Label probabilities for logged answers of a label-generating variant, when the engine did not give them.

The variant scores every label as the answer to the logged prompt (eval/constrained.py: one prompt pass, a few
tokens per label); a softmax with the temperature fitted on the frozen evaluation set turns the scores into
calibrated probabilities. The answer's confidence is the probability of the label it gave (0 when it gave
something outside the label set). Results go into the traffic row's nullable columns, so each request is
scored once.
"""

from __future__ import annotations

import json
from pathlib import Path

from tuneforge.data.labels import normalise_answer
from tuneforge.data.messages import with_system
from tuneforge.models.calibration import fit_temperature, softmax_rows
from tuneforge.monitor.feedback import request_messages, response_text
from tuneforge.monitor.reference import Reference, eval_examples
from tuneforge.paths import home

# A temperature fitted on fewer labelled rows than this would follow a handful of answers; T = 1 is kept instead.
MIN_CALIBRATION_ROWS = 5


def monitor_dir(ref: str) -> Path:
    d = home() / "monitor" / ref.replace(":", "-").replace("@", "-")
    d.mkdir(parents=True, exist_ok=True)
    return d


def confidence_of(answer: str | None, probs: dict[str, float]) -> float:
    return float(probs.get(normalise_answer(answer or ""), 0.0))


class LabelScorer:
    """One variant loaded once; scores prompts against its label set.

    A classification variant (models/classifier.py) already gives calibrated probabilities from its head (the
    temperature was fitted at training time), so it is asked directly; a generative variant's label scores go
    through the temperature fitted here on its frozen evaluation set.
    """

    def __init__(self, ref: Reference, batch_size: int = 16):
        from tuneforge.models.classifier import is_classifier

        self.ref = ref
        self.batch_size = batch_size
        self._temperature: float | None = None
        self.classifier = None
        if is_classifier(ref.run):
            from tuneforge.models.classifier import load_classifier

            self.classifier = load_classifier(ref.run_path, ref.run)
        else:
            from tuneforge.models.variant import load_for_inference

            self.loaded = load_for_inference(ref.run_path)

    def raw_scores(self, prompts: list[list[dict]]) -> list[list[float]]:
        from tuneforge.eval.constrained import label_logprobs

        if not prompts:
            return []
        out = label_logprobs(self.loaded.model, self.loaded.tokenizer, prompts, self.ref.labels, self.batch_size)
        return [scores for _, scores in out]

    def prompt(self, messages: list[dict]) -> list[dict]:
        # The server adds the variant's trained system prompt when the request has none; score what it answered.
        msgs = [m for m in messages if m["role"] != "assistant"] or messages
        return with_system(msgs, self.ref.system_prompt) if self.ref.system_prompt else msgs

    def temperature(self) -> float:
        """Fitted once per version on its frozen evaluation set and kept in TUNEFORGE_HOME/monitor/<ref>/."""
        if self._temperature is not None:
            return self._temperature
        path = monitor_dir(self.ref.ref) / "calibration.json"
        if path.is_file():
            self._temperature = float(json.loads(path.read_text())["temperature"])
            return self._temperature
        rows = [r for r in eval_examples(self.ref) if normalise_answer(r["reference"]) in self.ref.labels]
        if len(rows) >= MIN_CALIBRATION_ROWS:
            scores = self.raw_scores([self.prompt([{"role": "user", "content": r["input"]}]) for r in rows])
            truth = [self.ref.labels.index(normalise_answer(r["reference"])) for r in rows]
            t = fit_temperature(scores, truth)
        else:
            t = 1.0
        path.write_text(json.dumps({"temperature": t, "fitted_on": len(rows), "eval_path": self.ref.eval_path}))
        self._temperature = t
        return t

    def probabilities(self, prompts: list[list[dict]]) -> list[dict[str, float]]:
        if self.classifier is not None:
            from tuneforge.models.classifier import classifier_input

            labels = [normalise_answer(lab) for lab in self.classifier.labels]
            rows = self.classifier.probabilities([classifier_input(p) for p in prompts], self.batch_size)
            return [dict(zip(labels, row)) for row in rows]
        t = self.temperature()
        return [dict(zip(self.ref.labels, p)) for p in softmax_rows(self.raw_scores(prompts), t)]


def fill_missing(conn, ref: Reference, variants: list[str], limit: int | None = None, scorer=None) -> int:
    """Score the logged answers of `variants` that have no label probabilities yet; return how many."""
    if not ref.is_classification:
        return 0
    marks = ",".join("?" * len(variants))
    sql = (f"SELECT * FROM traffic WHERE variant IN ({marks}) AND label_probs_json IS NULL AND status = 200 "
           f"AND request_json IS NOT NULL ORDER BY id")
    rows = [dict(r) for r in conn.execute(sql + (f" LIMIT {int(limit)}" if limit else ""), variants)]
    if not rows:
        return 0
    scorer = scorer or LabelScorer(ref)
    probs = scorer.probabilities([scorer.prompt(request_messages(r)) for r in rows])
    for r, p in zip(rows, probs):
        conn.execute("UPDATE traffic SET label_probs_json = ?, confidence = ? WHERE id = ?",
                     (json.dumps(p), confidence_of(response_text(r), p), r["id"]))
    return len(rows)
