"""What a served variant is compared against: its training data (labels, inputs), its system prompt, its
frozen evaluation set, and the traffic rows it answered.

A monitored name (`invoice`) covers every version's traffic (`invoice:1`, `invoice:2`, ...); a version
(`invoice:2`) or a stage (`invoice@production`) covers that version only. The reference is the training data of
the version named (for a name: the production version, else the newest).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from tuneforge.data.labels import label_set, normalise_answer


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
                     labels, v.eval_path, run)


def eval_examples(ref: Reference) -> list[dict]:
    """The frozen evaluation set's rows (input, reference) from the version's eval.json, or []."""
    if not ref.eval_path or not Path(ref.eval_path).is_file():
        return []
    report = json.loads(Path(ref.eval_path).read_text(encoding="utf-8"))
    return [{"input": e["input"], "reference": e["reference"]} for e in report.get("examples", [])]
