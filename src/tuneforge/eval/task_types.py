"""Which kind of task the data is (detected from the references, or set by the user), and its scoring."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from tuneforge.data.answer_schema import json_keys
from tuneforge.data.labels import label_set
from tuneforge.data.normalise import normalise_answer
from tuneforge.errors import UserError
from tuneforge.eval.metrics import references_are_json
from tuneforge.eval.tasks import classification, extraction, structured, text

TASK_TYPES = ("classification", "extraction", "structured", "text")
_MODULES = {"classification": classification, "extraction": extraction, "structured": structured, "text": text}


@dataclass
class TaskSpec:
    type: str
    labels: list[str] | None = None  # normalised label set (classification)
    label_forms: dict[str, str] = field(default_factory=dict)  # normalised label -> how answers spell it
    keys: list[str] = field(default_factory=list)  # expected JSON keys in order (extraction)
    key_types: dict[str, str] = field(default_factory=dict)  # key -> "string" | "number" | "other"
    sections: list[str] = field(default_factory=list)  # house format (structured)
    max_words: int | None = None

    @property
    def headline(self) -> tuple[str, ...]:
        return _MODULES[self.type].HEADLINE

    def score(self, pred: str, ref: str) -> dict:
        if self.type == "classification":
            return classification.score_example(pred, ref, self.labels or [])
        if self.type == "extraction":
            return extraction.score_example(pred, ref)
        if self.type == "structured":
            return structured.score_example(pred, ref, self.sections, self.max_words)
        return text.score_example(pred, ref)

    def headline_values(self, rows: list[dict]) -> dict[str, float]:
        return _MODULES[self.type].headline(rows, self.labels)

    def summary(self, rows: list[dict]) -> dict:
        return _MODULES[self.type].summary(rows, self.labels)

    def to_json(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v not in (None, [], {})}


def _surface_forms(answers: list[str]) -> dict[str, str]:
    forms: dict[str, Counter] = {}
    for a in answers:
        forms.setdefault(normalise_answer(a), Counter())[a.strip()] += 1
    return {k: c.most_common(1)[0][0] for k, c in forms.items()}


def _looks_like_labels(refs: list[str], pool_refs: list[str]) -> bool:
    """Labels in the held-out answers, or (a few held-out rows, e.g. --limit) answers all from the pool's labels."""
    if label_set(refs):
        return True
    pool_labels = set(label_set(pool_refs) or [])
    return bool(pool_labels) and all(normalise_answer(r) in pool_labels for r in refs)


def detect_task(
    refs: list[str], pool_refs: list[str] | None = None, forced: str = "auto",
    sections: list[str] | None = None, max_words: int | None = None,
) -> TaskSpec:
    """Detect the task type from the held-out references; the training pool widens the label set and key list."""
    pool_refs = pool_refs or []
    kind = forced
    if kind == "auto":
        if _looks_like_labels(refs, pool_refs):
            kind = "classification"
        elif references_are_json(refs):
            kind = "extraction"
        elif sections or structured.infer_format(refs):
            kind = "structured"
        else:
            kind = "text"
    if kind not in TASK_TYPES:
        raise UserError(f"task: unknown task type {kind!r}; choose from auto, {', '.join(TASK_TYPES)}")
    spec = TaskSpec(kind)
    if kind == "classification":
        # Labels seen in training count as valid too: the test split may lack a rare class.
        labels = set(label_set(refs, max_labels=10_000) or {normalise_answer(r) for r in refs})
        labels |= set(label_set(pool_refs) or [])
        spec.labels = sorted(labels)
        spec.label_forms = _surface_forms(pool_refs + refs)
    elif kind == "extraction":
        if not references_are_json(refs):
            raise UserError("task: extraction needs every reference answer to be a JSON object")
        spec.keys, spec.key_types = json_keys(refs)
    elif kind == "structured":
        spec.sections = list(sections or structured.infer_format(refs) or [])
        if not spec.sections:
            raise UserError("task: structured needs --sections, or references that share their section headings")
        spec.max_words = max_words
    return spec
