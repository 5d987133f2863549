"""Problems found in a data file, each pinned to file, line and field."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

from tuneforge.errors import UserError

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None  # 1-based; None when the problem is about the whole file
    field: str | None
    message: str
    hint: str | None = None
    severity: Severity = "error"

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        field = f" [{self.field}]" if self.field else ""
        hint = f" (hint: {self.hint})" if self.hint else ""
        return f"{where}: {self.severity}{field}: {self.message}{hint}"

    def to_dict(self) -> dict:
        return asdict(self)


class DataError(UserError):
    """A data file was refused. Carries every problem found, not only the first."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        errors = [p for p in problems if p.severity == "error"]
        shown = "\n".join(f"  {p}" for p in errors[:20])
        more = f"\n  ... and {len(errors) - 20} more" if len(errors) > 20 else ""
        super().__init__(f"{len(errors)} problem(s) in the data; nothing was loaded:\n{shown}{more}")
