"""`tuneforge data check`: every problem in a data file, row-level (from the reader) and dataset-level.

Dataset-level checks: too few examples (OpenAI refuses under 10; under 100 rarely beats prompting), label classes
with too few examples to learn, and examples longer than the model's context in tokens, measured with the
model's own tokenizer and chat template (a truncated example loses the end of its answer and its stop token, so
the model learns not to stop). Errors mean training would refuse or damage the data; warnings mean it would run
but probably disappoint. The exit code says which: see EXIT_CODES (warnings give 3 only with --strict).
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field

from tuneforge.data.formats import Example, LoadResult
from tuneforge.data.labels import LabelTally
from tuneforge.data.problems import Problem

MIN_EXAMPLES = 10  # OpenAI's fine-tuning API refuses fewer
RECOMMENDED_EXAMPLES = 100
MIN_PER_LABEL = 5
EXIT_CODES = {"clean": 0, "errors": 1, "warnings": 3}  # 2 is click's own code for a bad command line


@dataclass
class CheckReport:
    file: str
    detected: str
    examples: list[Example]
    problems: list[Problem]
    labels: dict[str, int] | None = None  # label -> count, when the answers are labels
    token_counts: list[int] | None = None  # per valid example, when a tokenizer was given
    max_tokens: int | None = None
    notes: list[str] = field(default_factory=list)
    strict: bool = False  # `data check --strict`: warnings fail too
    n_examples: int | None = None  # set by the streaming check, which does not keep `examples`

    @property
    def example_count(self) -> int:
        return len(self.examples) if self.n_examples is None else self.n_examples

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def exit_code(self) -> int:
        """1 on errors; warnings exit 0 (a small data set must not break `set -e` scripts) unless strict: 3."""
        if self.errors:
            return EXIT_CODES["errors"]
        return EXIT_CODES["warnings"] if self.warnings and self.strict else EXIT_CODES["clean"]

    def to_dict(self) -> dict:
        return {
            "file": self.file, "format": self.detected, "examples": self.example_count,
            "errors": len(self.errors), "warnings": len(self.warnings), "labels": self.labels,
            "max_tokens": self.max_tokens,
            "longest_example_tokens": max(self.token_counts) if self.token_counts else None,
            "problems": [p.to_dict() for p in self.problems], "notes": self.notes,
        }


def label_counts(examples: list[Example]) -> dict[str, int] | None:
    """label -> count when the answers are labels (label_set's decision), counted over one pass in bounded memory."""
    tally = LabelTally()
    for e in examples:
        tally.add(e.answer)
    return tally.labels()


def _count_problems(file: str, n_valid: int, n_rows: int) -> list[Problem]:
    if n_valid < MIN_EXAMPLES:
        return [Problem(file, None, None, f"only {n_valid} valid example(s); at least {MIN_EXAMPLES} are needed",
                        "collect more examples (OpenAI's fine-tuning floor is 10)")]
    if n_rows < RECOMMENDED_EXAMPLES:
        return [Problem(file, None, None, f"{n_rows} examples; under {RECOMMENDED_EXAMPLES} fine-tuning rarely "
                        "beats a few-shot prompt", "collect more, or try prompting first", "warning")]
    return []


def _label_problems(file: str, counts: dict[str, int], min_per_label: int) -> list[Problem]:
    return [
        Problem(file, None, "labels", f"class {label!r} has only {n} example(s) (minimum {min_per_label})",
                "add examples of this class, or merge it into another", "warning")
        for label, n in counts.items() if n < min_per_label
    ]


def _max_token_chars(tokenizer) -> int:
    """The longest string one token stands for: a text of C characters takes at least C / this many tokens."""
    cached = getattr(tokenizer, "_tuneforge_max_token_chars", None)
    if cached is None:
        cached = max((len(t) for t in tokenizer.get_vocab()), default=1) or 1
        try:
            tokenizer._tuneforge_max_token_chars = cached
        except AttributeError:  # pragma: no cover - a tokenizer that refuses attributes is measured each time
            pass
    return cached


def token_lengths(tokenizer, examples: list[Example], limit: int | None = None) -> tuple[array, set[int]]:
    """(tokens each example takes in training, positions whose count is only a lower bound).

    The count is the template-rendered conversation (longer side of a pair). An example whose characters alone
    prove it longer than `limit` is not tokenized: its count is that lower bound (a 50 MB line once spent
    4.4 minutes and 4.9 GB in the tokenizer only to be rejected).
    """
    from tuneforge.chat_encoding import encode_conversation

    big = 1 << 30  # measure the full length; truncation is what we are checking for
    per_token = _max_token_chars(tokenizer) if limit else 0
    out, bounds = array("i"), set()  # 4 bytes per row (a list of ints takes 8 to 36)
    for k, ex in enumerate(examples):
        if limit:
            chars = sum(len(m["content"]) for m in ex.messages) + len(ex.meta.get("rejected", ""))
            at_least = -(-chars // per_token)
            if at_least > limit:
                out.append(at_least)
                bounds.add(k)
                continue
        n = len(encode_conversation(tokenizer, ex.messages, big).input_ids)
        if ex.is_preference:
            n = max(n, len(encode_conversation(tokenizer, ex.rejected_messages, big).input_ids))
        out.append(n)
    return out, bounds


def _length_problems(file: str, examples: list[Example], counts: list[int], max_tokens: int,
                     bounds: set[int] = frozenset()) -> list[Problem]:
    return [
        Problem(file, ex.line, "messages",
                f"{'at least ' if k in bounds else ''}{n} tokens, over the limit of {max_tokens}"
                + (" (counted from its length in characters, without tokenizing)" if k in bounds else ""),
                "shorten the example, or raise --max-seq-len if the model's context allows it")
        for k, (ex, n) in enumerate(zip(examples, counts)) if n > max_tokens
    ]


def cut_input_problems(file: str, examples: list[Example], counts: list[int], limit: int) -> list[Problem]:
    """Rows whose user text a sentence encoder cuts: training reads the first `limit` tokens (a head needs no
    answer tokens, so nothing is refused), but what decides the label may be in the part dropped."""
    return [
        Problem(file, ex.line, "messages",
                f"the user text is {n} tokens; the sentence encoder reads the first {limit} and drops the rest",
                "shorten it, or put what decides the label first", "warning")
        for ex, n in zip(examples, counts) if n > limit
    ]


def check_loaded(result: LoadResult, file: str, tokenizer=None, max_tokens: int | None = None,
                 min_per_label: int = MIN_PER_LABEL) -> CheckReport:
    """Dataset-level checks on top of the reader's row problems."""
    problems = list(result.problems)
    examples = result.examples
    rows_seen = len(examples) + len({p.line for p in problems if p.line is not None and p.severity == "error"})
    if examples or not problems:
        problems += _count_problems(file, len(examples), rows_seen)
    report = CheckReport(file, result.detected, examples, problems)
    report.labels = label_counts(examples)
    if report.labels:
        problems += _label_problems(file, report.labels, min_per_label)
    if tokenizer is not None and examples:
        bounds: set[int] = set()
        try:
            report.token_counts, bounds = token_lengths(tokenizer, examples, max_tokens)
        except ValueError as err:  # a chat template training cannot use either; say so instead of crashing
            problems.append(Problem(file, None, "base", f"cannot measure token lengths: {err}",
                                    "choose a base model whose chat template training supports", "warning"))
        report.max_tokens = max_tokens
        if max_tokens and report.token_counts:
            problems += _length_problems(file, examples, report.token_counts, max_tokens, bounds)
    report.problems = sorted(problems, key=lambda p: (p.line is not None, p.line or 0))
    return report
