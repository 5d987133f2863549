"""`tuneforge data report`: is this data ready for fine-tuning, and is fine-tuning the right move at all?

Runs the checks and the cleaning steps (without writing anything), measures tokens with the base model's
tokenizer and chat template, estimates training time and memory, and ends in a verdict with its reasons:
fine-tune, collect more data, try prompting first, or fix the data first.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field

from tuneforge.data.clean import CleanResult, run_cleaning
from tuneforge.data.estimate import Estimate, estimate_training, example_token_counts, human_seconds, model_shape
from tuneforge.data.formats import LoadResult
from tuneforge.data.split import split_examples
from tuneforge.data.validate import MIN_EXAMPLES, RECOMMENDED_EXAMPLES, CheckReport, check_loaded
from tuneforge.errors import UserError

# Shares of the data above which the answers are too inconsistent to learn one behaviour from.
MAX_CONTRADICTED_SHARE = 0.10
MAX_INVALID_SHARE = 0.10

VERDICTS = ("fine-tune", "collect more data", "try prompting first", "fix the data first")


@dataclass
class Readiness:
    check: CheckReport
    clean: CleanResult
    answer_lengths: array  # tokens when a tokenizer was available, else characters (4 bytes each)
    answer_unit: str
    estimate: Estimate | None
    verdict: str = ""
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    plan: list[str] = field(default_factory=list)  # what `train` would choose, "field=value (why)": the run estimated
    refusal: str = ""  # why `train` would refuse the settings given (the data may still be fine)

    @property
    def examples(self) -> int:
        return len(self.check.examples)

    def found(self, step: str) -> int:
        return self.clean.step(step).count

    def to_dict(self) -> dict:
        return {
            "check": self.check.to_dict(), "clean": self.clean.to_dict(),
            "answer_lengths": {"unit": self.answer_unit, "values": list(self.answer_lengths)},
            "estimate": self.estimate.to_dict() if self.estimate else None,
            "verdict": self.verdict, "reasons": self.reasons, "notes": self.notes, "plan": self.plan,
            "refusal": self.refusal,
        }


def decide(r: Readiness, min_per_label: int = 5) -> tuple[str, list[str]]:
    """The verdict and every reason for it, most important first."""
    n, rows = r.examples, r.clean.input_rows
    invalid = r.found("invalid_rows")
    contradicted = r.clean.step("contradictions").affected
    suspects = r.found("suspicious_labels")
    cleanups = {s.title: s.count for s in r.clean.steps if s.count and s.name != "suspicious_labels"}
    if rows and invalid > MAX_INVALID_SHARE * rows:
        return "fix the data first", [f"{invalid} of {rows} rows are invalid; see `tuneforge data check`"]
    if n < MIN_EXAMPLES:
        return "collect more data", [f"only {n} valid examples; fine-tuning needs at least {MIN_EXAMPLES}"]
    if n and contradicted > MAX_CONTRADICTED_SHARE * n:
        return "try prompting first", [
            f"{contradicted} of {n} examples give different answers to the same input: there is no stable "
            "behaviour to learn; settle the rules (or fix the labels) and prompt with them"]
    if n < RECOMMENDED_EXAMPLES:
        return "try prompting first", [
            f"{n} examples: under {RECOMMENDED_EXAMPLES}, a few-shot prompt usually does as well; "
            "collect more examples and fine-tune then"]
    small = {k: v for k, v in (r.check.labels or {}).items() if v < min_per_label}
    if small:
        return "collect more data", [f"label(s) with under {min_per_label} examples: "
                                     + ", ".join(f"{k} ({v})" for k, v in small.items())]
    reasons = [f"{n} valid examples" + (f" over {len(r.check.labels)} labels" if r.check.labels else "")]
    if cleanups:
        reasons.append("clean or review first (`tuneforge data clean`): "
                       + ", ".join(f"{k[0].lower()}{k[1:]} {v}" for k, v in cleanups.items()))
    # A count, not a verdict: a label is a suspect only when the rest of the data gives it under 5%, which a
    # fifth of labels flipped at random cannot do (the flips teach the classifier their own labels), so a share
    # limit never fired; measured on real data in benchmarks/RESULTS.md ("Suspicious labels under label noise").
    if suspects:
        reasons.append(f"review {suspects} suspicious label(s)")
    if r.estimate:
        reasons.append(f"estimated training time {human_seconds(r.estimate.seconds)} ({r.estimate.method})")
    return "fine-tune", reasons


@dataclass
class BaseModelInfo:
    """The base model as far as a data report needs it: its tokenizer, token limit and folder (for the shape)."""

    name: str
    tokenizer: object | None = None
    max_tokens: int | None = None
    folder: object | None = None
    note: str = ""


def _estimate(train_cfg, train: list, base: BaseModelInfo, head_tokens, notes: list[str]) -> Estimate | None:
    if train_cfg.variant_type == "classification":
        if head_tokens is None:
            notes.append("no time/memory estimate for a classification variant here")
            return None
        # The head reads the user text with its own base's tokenizer.
        folder, tokens, encoder, cut = head_tokens(train_cfg.base, train, train_cfg.max_seq_len)
        if cut:
            notes.append(cut)
        return estimate_training(model_shape(folder), tokens, train_cfg, train_cfg.base, encoder=encoder)
    if base.tokenizer is None:  # a sentence encoder's folder: it has no chat encoding to count
        notes.append("no time/memory estimate for a generative variant on this base")
        return None
    tokens, answer_tokens, shared = example_token_counts(base.tokenizer, train, train_cfg.max_seq_len,
                                                        dpo=train_cfg.objective == "dpo")
    return estimate_training(model_shape(base.folder), tokens, train_cfg, base.name, answer_tokens,
                             shared_prefix=shared)


def assess(load: LoadResult, file: str, evals=None, base: BaseModelInfo | None = None,
           train_cfg=None, plan=None, head_tokens=None) -> Readiness:
    """Checks, cleaning scan, answer lengths, the training estimate for `train_cfg` (a TrainConfig) and a verdict.

    `plan(train_cfg, training rows) -> (TrainConfig, notes)` fills the settings left unset as training would
    (the CLI passes train/defaults.py's `choose_defaults`; this layer does not import training), so the estimate is
    of the run that `tuneforge train` then makes. `head_tokens(base, rows, max_seq_len) -> (folder, tokens per row,
    is an encoder, a note on inputs it cuts)` measures what a classification head would read (models/classifier.py
    `head_token_counts`); without it a classification run gets no estimate."""
    tokenizer = base.tokenizer if base else None
    check = check_loaded(load, file, tokenizer, base.max_tokens if base else None)
    cleaned = run_cleaning(load, evals)
    # 4 bytes per row (array), not a list of Python ints
    if tokenizer is not None:
        answers = array("i", (len(tokenizer(e.answer, add_special_tokens=False)["input_ids"]) for e in check.examples))
        unit = "tokens"
    else:
        answers, unit = array("i", (len(e.answer) for e in check.examples)), "characters"
    estimate, chosen, refusal = None, [], ""
    notes = [base.note] if base and base.note else []
    if base and base.folder is not None and train_cfg is not None and check.examples:
        # The same inputs training hands the estimator: the training split, encoded as training encodes it.
        train = check.examples if train_cfg.eval_data else split_examples(
            check.examples, train_cfg.eval_split, train_cfg.seed)[0]
        if plan is not None:
            try:
                train_cfg, chosen = plan(train_cfg, train)
            except UserError as err:  # the run these settings ask for cannot be made: say so, estimate nothing
                refusal, train_cfg = str(err), None
        if train_cfg is not None:
            estimate = _estimate(train_cfg, train, base, head_tokens, notes)
    elif check.token_counts is None:
        notes.append("no tokenizer: token counts and the time/memory estimate are left out")
    r = Readiness(check, cleaned, answers, unit, estimate, notes=notes, plan=chosen, refusal=refusal)
    r.verdict, r.reasons = decide(r)
    if refusal:  # whatever the data's verdict, these settings will not train
        r.reasons.append(f"`tuneforge train` refuses the settings given: {refusal}")
    return r
