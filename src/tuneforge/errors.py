"""The one error type for mistakes a user can fix: a bad file, flag, name or state. It names the file, line and
field when there are ones, and a hint; the CLI catches it once (cli/main.py) and prints it without a traceback.
Everything else is a bug and keeps its traceback.

It subclasses ValueError so library callers that already catch ValueError around a user-facing call keep working.
"""

from __future__ import annotations


class UserError(ValueError):
    exit_code = 1  # a subclass may choose another (a bad command line is 2, as click's own usage errors)

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 field: str | None = None, hint: str | None = None):
        self.message, self.file, self.line, self.field, self.hint = message, file, line, field, hint
        super().__init__(self.describe())

    def describe(self) -> str:
        where = ""
        if self.file:
            where = f"{self.file}:{self.line}: " if self.line is not None else f"{self.file}: "
        field = f"{self.field}: " if self.field else ""
        hint = f" (hint: {self.hint})" if self.hint else ""
        return f"{where}{field}{self.message}{hint}"
