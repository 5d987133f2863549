"""What a served variant is compared against: its training data (labels, inputs), its system prompt, its
frozen evaluation set, and the traffic rows it answered.

A monitored name (`invoice`) covers every version's traffic (`invoice:1`, `invoice:2`, ...); a version
(`invoice:2`) or a stage (`invoice@production`) covers that version only. The reference is the training data of
the version named (for a name: the production version, else the newest).

Label drift compares the variant's answers in a window with the variant's *own answers on reference data*: its
predictions on the held-out evaluation set recorded in its eval.json. Comparing with the training labels instead
makes an imperfect variant look drifted on unchanged traffic (one right 47% of the time answers with a mix far
from the training mix; benchmarks/RESULTS.md). The training labels are the fallback when the version has no
evaluation with at least MIN_REFERENCE_ANSWERS answers; `label_reference_name` says which one was used.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from tuneforge.data.labels import label_set, normalise_answer

# Fewer answers than this give too noisy a mix to test against (with a dozen labels, chi-square wants about 5
# expected answers per label); the training labels are used instead.
MIN_REFERENCE_ANSWERS = 50


@dataclass
class Reference:
    ref: str  # the registry version, e.g. invoice:2
    name: str
    run_path: str
    system_prompt: str | None
    train_inputs: list[str]
    train_labels: dict[str, int]  # label -> count in the training data ({} when the task is not labels)
    labels: list[str]
    eval_path: str | None
    run: dict = field(default_factory=dict)
    eval_answers: dict[str, int] = field(default_factory=dict)  # label -> count of the variant's eval answers

    @property
    def label_reference(self) -> dict[str, int]:
        """What a window's answers are compared with: the variant's own eval answers, else the training labels."""
        return self.eval_answers or self.train_labels

    @property
    def label_reference_name(self) -> str:
        n = sum(self.label_reference.values())
        return (f"{self.ref}'s answers on its evaluation set (n = {n})" if self.eval_answers
                else f"training labels (n = {n})")

    @property
    def is_classification(self) -> bool:
        return bool(self.labels)


def variant_names(registry, spec: str) -> list[str]:
    """The traffic `variant` values a monitor of `spec` covers."""
    if ":" in spec or "@" in spec:
        return [registry.get(spec).ref]
    return [v.ref for v in registry.list(name=spec)]


def load_reference(spec: str, registry=None) -> Reference:
    from tuneforge.data.formats import load_examples
    from tuneforge.registry.store import Registry
    from tuneforge.run_record import read_run

    own = registry is None
    registry = registry or Registry()
    try:
        v = registry.get(spec)
    finally:
        if own:
            registry.close()
    run = read_run(v.run_path)
    data = run.get("data") or {}
    examples = load_examples(data["path"])[0] if data.get("path") and Path(data["path"]).is_file() else []
    answers = [e.answer for e in examples]
    labels = label_set(answers) or []
    counts: dict[str, int] = {}
    if labels:
        for a in answers:
            counts[normalise_answer(a)] = counts.get(normalise_answer(a), 0) + 1
    return Reference(v.ref, v.name, v.run_path, data.get("system_prompt"), [e.user_text for e in examples], counts,
                     labels, v.eval_path, run, eval_answer_counts(v.eval_path) if labels else {})


def eval_answer_counts(eval_path: str | None) -> dict[str, int]:
    """label -> how often the evaluated variant (the eval's default system) answered it on the held-out set; {}
    when there is no eval.json, it stores no per-example predictions, or it has fewer than MIN_REFERENCE_ANSWERS."""
    from tuneforge.eval.eval_file import read_eval

    if not eval_path or not Path(eval_path).is_file():
        return {}
    report = read_eval(eval_path)
    system = report.default_system()
    counts: dict[str, int] = {}
    for e in report.examples:
        answer = (e.get("predictions") or {}).get(system)
        if isinstance(answer, str):
            counts[normalise_answer(answer)] = counts.get(normalise_answer(answer), 0) + 1
    return counts if sum(counts.values()) >= MIN_REFERENCE_ANSWERS else {}


def eval_examples(ref: Reference) -> list[dict]:
    """The frozen evaluation set's rows (input, reference) from the version's eval.json, or []."""
    if not ref.eval_path or not Path(ref.eval_path).is_file():
        return []
    report = json.loads(Path(ref.eval_path).read_text(encoding="utf-8"))
    return [{"input": e["input"], "reference": e["reference"]} for e in report.get("examples", [])]
