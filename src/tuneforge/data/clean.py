"""`tuneforge data clean`: the cleaning steps in order, each reported with counts and examples, none silent.

Steps that are safe to apply remove examples (invalid rows, duplicates, training rows that leak into the eval
data); steps that need a person's judgement only flag (contradictions, structure outliers, suspicious labels),
because tuneforge cannot know which of two answers is right. PII is flagged, redacted or dropped as asked.
Each step works on what the previous steps kept, so a duplicate removed in step 2 is not reported again later.
`tuneforge data report` runs the same steps without writing anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from tuneforge.data import duplicates, pii
from tuneforge.data.findings import Finding, clip
from tuneforge.data.formats import Example, LoadResult
from tuneforge.data.outliers import structure_outliers
from tuneforge.data.row_store import Subset, rows_of
from tuneforge.data.suspects import label_suspects
from tuneforge.errors import UserError

PII_ACTIONS = ("flag", "redact", "drop")


@dataclass
class CleanOptions:
    near_threshold: float = duplicates.NEAR_THRESHOLD
    pii: str = "flag"  # flag | redact | drop
    drop_near_duplicates: bool = True
    drop_contradictions: bool = False


@dataclass
class StepResult:
    name: str
    title: str
    action: str  # removed | flagged | redacted | skipped
    findings: list[Finding] = field(default_factory=list)
    affected: int = 0  # examples removed, rewritten or flagged
    note: str | None = None

    @property
    def count(self) -> int:
        return len(self.findings)

    def to_dict(self) -> dict:
        return {"step": self.name, "title": self.title, "action": self.action, "found": self.count,
                "affected_examples": self.affected, "note": self.note,
                "findings": [f.to_dict() for f in self.findings]}


@dataclass
class CleanResult:
    input_rows: int
    kept: Sequence[Example]  # a row_store.Subset: iterate it to write the kept rows, in file order
    steps: list[StepResult]

    def step(self, name: str) -> StepResult:
        return next(s for s in self.steps if s.name == name)

    def to_dict(self) -> dict:
        return {"input_rows": self.input_rows, "kept": len(self.kept), "steps": [s.to_dict() for s in self.steps]}


def _invalid_rows(load: LoadResult) -> StepResult:
    by_line: dict[int | None, list[str]] = {}
    for p in load.problems:
        if p.severity == "error":
            by_line.setdefault(p.line, []).append(f"[{p.field}] {p.message}" if p.field else p.message)
    findings = [Finding([], f"line {line}: " + "; ".join(msgs), [line]) for line, msgs in by_line.items()]
    return StepResult("invalid_rows", "Invalid rows", "removed", findings, len(findings))


def _without(examples: Subset, drop: set[int]) -> Subset:
    return examples.without(drop) if drop else examples


def _mask(text: str) -> str:
    return text[:3] + "•" * max(len(text) - 5, 1) + text[-2:] if len(text) > 6 else "•" * len(text)


def redact_example(ex: Example) -> Example:
    """The example with every PII match in its texts replaced (the pii step's 'redact' action)."""
    msgs = [{**m, "content": pii.redact(m["content"], pii.find_pii(m["content"]))} for m in ex.messages]
    meta = {k: pii.redact(v, pii.find_pii(v)) if k in ("chosen", "rejected") else v for k, v in ex.meta.items()}
    return replace(ex, messages=msgs, meta=meta)


def _pii_findings(examples: list[Example]) -> list[Finding]:
    out = []
    seen: dict[str, list] = {}  # a text repeated on every row (the system prompt) is scanned once
    for i, ex in enumerate(examples):
        texts = [(f"messages[{k}].content", m["content"]) for k, m in enumerate(ex.messages)]
        texts += [("rejected", ex.meta["rejected"])] if ex.is_preference else []
        for where, text in texts:
            found = seen.get(text)
            if found is None:
                found = pii.find_pii(text)
                if len(seen) < 10_000:
                    seen[text] = found
            for m in found:
                out.append(Finding([i], f"line {ex.line} [{where}]: {m.kind} {_mask(m.text)!r}", [ex.line],
                                   extra={"kind": m.kind, "field": where}))
    return out


def run_cleaning(load: LoadResult, evals: list[Example] | None = None, opts: CleanOptions | None = None,
                 ) -> CleanResult:
    opts = opts or CleanOptions()
    if opts.pii not in PII_ACTIONS:
        raise UserError(f"pii: {opts.pii!r} is not one of {', '.join(PII_ACTIONS)}")
    steps: list[StepResult] = [_invalid_rows(load)]
    current = rows_of(load.examples)  # rows are dropped by index: a file's rows can stay on disk (row_store.py)
    input_rows = len(current) + steps[0].affected

    found = duplicates.exact_duplicates(current)
    drop = {i for f in found for i in f.members[1:]}
    steps.append(StepResult("exact_duplicates", "Exact duplicates", "removed", found, len(drop)))
    current = _without(current, drop)

    # One similarity search serves both steps: contradictions use the pairs left after near-copies are dropped.
    pairs = duplicates.input_pairs(current, opts.near_threshold)
    found = duplicates.near_duplicates(current, opts.near_threshold, pairs)
    drop = {i for f in found for i in f.members[1:]}
    steps.append(StepResult("near_duplicates", f"Near duplicates (similarity >= {opts.near_threshold})",
                            "removed" if opts.drop_near_duplicates else "flagged", found, len(drop)))
    if opts.drop_near_duplicates:
        pairs = duplicates.pairs_among(pairs, drop)
        current = _without(current, drop)

    found = duplicates.contradictions(current, opts.near_threshold, pairs)
    members = {i for f in found for i in f.members}
    steps.append(StepResult("contradictions", "Contradictions (same input, different answers)",
                            "removed" if opts.drop_contradictions else "flagged", found, len(members),
                            None if opts.drop_contradictions else "decide which answer is right, then fix or "
                            "delete the others (or rerun with --drop-contradictions)"))
    contradicted = {current.base_index(i) for i in members}
    if opts.drop_contradictions:
        current = _without(current, members)

    if evals is None:
        steps.append(StepResult("leakage", "Train/eval leakage", "skipped", note="no eval data given (--eval-data)"))
    else:
        found = duplicates.leakage(current, evals, opts.near_threshold)
        drop = {f.members[0] for f in found}
        steps.append(StepResult("leakage", "Train/eval leakage", "removed", found, len(drop),
                                "leaking training rows are removed; the eval data is left as it is"))
        current = _without(current, drop)

    found = _pii_findings(current)
    hit = {f.members[0] for f in found}
    action = {"flag": "flagged", "redact": "redacted", "drop": "removed"}[opts.pii]
    steps.append(StepResult("pii", "Personal data (e-mail, phone, IBAN, card)", action, found, len(hit),
                            "rerun with --pii redact or --pii drop to act on it" if opts.pii == "flag" else None))
    if opts.pii == "redact":
        current = current.replaced({i: redact_example(current[i]) for i in sorted(hit)})
    elif opts.pii == "drop":
        current = _without(current, hit)

    found = structure_outliers(current)
    steps.append(StepResult("structure_outliers", "Answers unlike the majority", "flagged", found,
                            len({f.members[0] for f in found})))

    # Every suspect is kept (strongest first; displays show the first few): the report and the readiness reasons
    # count them, and a list capped at 20 once hid a mislabelled fifth of 200 rows.
    found, skipped, note = label_suspects(current)
    found = [f for f in found if current.base_index(f.members[0]) not in contradicted]  # already flagged above
    steps.append(StepResult("suspicious_labels", "Suspicious labels (the rest of the data disagrees)",
                            "skipped" if skipped else "flagged", found, len(found), skipped or note))
    return CleanResult(input_rows, current, steps)


def step_lines(step: StepResult, limit: int = 5) -> list[str]:
    """Human lines for one step: a headline with counts, then up to `limit` examples."""
    verb = {"removed": "removed", "flagged": "flagged for review", "redacted": "redacted", "skipped": "skipped"}
    if step.action == "skipped":
        return [f"{step.title}: skipped ({step.note})"]
    head = f"{step.title}: {step.count} found"
    if step.count:
        head += f", {step.affected} example(s) {verb[step.action]}"
    lines = [head]
    lines += [f"    {clip(f.message, 160)}" for f in step.findings[:limit]]
    if step.count > limit:
        lines.append(f"    ... and {step.count - limit} more (see the JSON report)")
    if step.count and step.note:
        lines.append(f"    note: {step.note}")
    return lines

