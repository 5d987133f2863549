"""A job's files checked by the data workbench's own checks (data/formats.py reader, data/validate.py dataset
checks, token lengths with the base model's tokenizer), reported with OpenAI's error codes:
`invalid_training_file` / `invalid_validation_file` naming the first bad line and its message, and
`invalid_n_examples` when the training file has fewer than OpenAI's minimum of 10 examples.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tuneforge.data.formats import PAIR_FORMATS, Example, parse_data
from tuneforge.data.validate import MIN_EXAMPLES, check_loaded


@dataclass
class JobError(Exception):
    code: str
    message: str
    param: str | None = None

    def to_dict(self) -> dict:
        return {"code": self.code, "message": self.message, "param": self.param}


@dataclass
class Checked:
    examples: list[Example]
    warnings: list[str] = field(default_factory=list)


def _where(p) -> str:
    return f"line {p.line}" + (f", field {p.field!r}" if p.field else "") if p.line is not None else "file"


def check_file(path: Path, file_id: str, filename: str, objective: str, role: str, tokenizer=None,
               max_tokens: int | None = None) -> Checked:
    """Check one uploaded file for a job; raise JobError (OpenAI's code, the line named) when it cannot train."""
    param = f"{role}_file"
    code = f"invalid_{role}_file"
    # The stored blob is read under the name the user uploaded, so every message names their file.
    result = parse_data(path.read_bytes(), filename if Path(filename).suffix else filename + ".jsonl")
    if result.examples and objective == "dpo" and result.detected not in PAIR_FORMATS:
        raise JobError(code, f"{file_id} ({filename}): method 'dpo' needs preference pairs "
                             "(input / preferred_output / non_preferred_output), but the file holds "
                             f"{result.detected} rows", param)
    if result.examples and objective != "dpo" and result.detected in PAIR_FORMATS:
        raise JobError(code, f"{file_id} ({filename}): the file holds preference pairs; create the job with "
                             "method type 'dpo'", param)
    report = check_loaded(result, filename, tokenizer, max_tokens)
    errors = report.errors
    if role == "validation" and len(report.examples) < MIN_EXAMPLES:
        # The 10-example floor is for training; a small validation file is fine.
        errors = [p for p in errors if p.line is not None or p.field is not None]
    row_errors = [p for p in errors if p.line is not None]
    if row_errors:
        first = row_errors[0]
        more = f" ({len(errors) - 1} more problem(s) in the file)" if len(errors) > 1 else ""
        raise JobError(code, f"Invalid file format in {file_id} ({filename}), {_where(first)}: {first.message}"
                             f"{more}", param)
    if role == "training" and len(report.examples) < MIN_EXAMPLES:
        raise JobError("invalid_n_examples", f"Training file {file_id} ({filename}) has {len(report.examples)} "
                                             f"example(s); it needs at least {MIN_EXAMPLES}.", param)
    if errors:
        raise JobError(code, f"{file_id} ({filename}): {errors[0].message}", param)
    return Checked(report.examples, [f"{filename}: {_where(p)}: {p.message}" for p in report.warnings])
