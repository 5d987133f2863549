"""What each cleaning step found: one Finding per duplicate group, contradiction, leak, PII hit or suspect.

A Finding holds positions in the list the step was given (`members`), the file lines of those examples, and a
message a person can act on. Steps never drop anything themselves; clean.py decides what to remove or rewrite,
so `report` can run the same steps without touching the data.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tuneforge.data.formats import Example


@dataclass
class Finding:
    members: list[int]  # positions in the step's input list; the first is the one kept for duplicates
    message: str
    lines: list[int | None] = field(default_factory=list)
    score: float | None = None  # similarity, or suspicion for label suspects
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        out = {"lines": self.lines, "message": self.message}
        if self.score is not None:
            out["score"] = round(self.score, 3)
        out.update(self.extra)
        return out


def input_text(ex: Example) -> str:
    """What the model is given, without the system prompt (usually one shared instruction, not the input)."""
    return "\n".join(m["content"] for m in ex.prompt_messages if m["role"] != "system")


def at_lines(examples: list[Example], members: list[int]) -> list[int | None]:
    line_of = getattr(examples, "line_of", None)  # rows read back from disk know their lines without parsing
    return [line_of(i) for i in members] if line_of else [examples[i].line for i in members]


def describe_lines(lines: list[int | None]) -> str:
    shown = ", ".join("?" if n is None else str(n) for n in lines[:6])
    return f"line{'s' if len(lines) > 1 else ''} {shown}" + (f" (+{len(lines) - 6})" if len(lines) > 6 else "")


def clip(text: str, n: int = 70) -> str:
    t = " ".join(text.split())
    return t if len(t) <= n else t[: n - 1] + "…"
