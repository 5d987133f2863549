"""Parity after export: the exported model must give the same greedy answers as the adapter on a sample.

An export in the precision the variant was evaluated in (`exact`: float32 / F32) must agree on every answer. A
lower precision (bfloat16, float16, F16) may flip near-ties: the check records each differing answer with the logit
margin it came down to (export/divergence.py) and does not fail on them; the user chose the smaller file.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tuneforge.errors import UserError

PARITY_FILE = "parity.json"


@dataclass
class ParityReport:
    kind: str
    prompts: int
    matches: int
    mismatches: list[dict] = field(default_factory=list)
    exact: bool = True  # the export is in the evaluation precision: every answer must agree

    @property
    def passed(self) -> bool:
        return self.prompts > 0 and (self.matches == self.prompts or not self.exact)

    def lines(self) -> list[str]:
        """Each differing answer with the margin it came down to."""
        from tuneforge.export.divergence import describe

        return [describe(m["prompt"], m["adapter"], m["exported"], m.get("divergence")) for m in self.mismatches]

    def save(self, folder: Path) -> Path:
        path = Path(folder) / PARITY_FILE
        path.write_text(json.dumps({**asdict(self), "passed": self.passed}, indent=2, ensure_ascii=False) + "\n")
        return path


def sample_prompts(run: dict, n: int, path: str | Path | None = None) -> list[list[dict]]:
    """The first n (0: all) prompts of `path`, else of the run's held-out (or training) data, each with the system
    prompt it was trained with, as `tuneforge predict` builds them."""
    from tuneforge.config import DataOptions
    from tuneforge.data.formats import load_from_options

    data = run.get("data", {})
    options = DataOptions(**{k: v for k, v in run.get("config", {}).items() if k in DataOptions.model_fields})
    for candidate in ((path,) if path else (data.get("eval_path"), data.get("path"))):
        if candidate and Path(candidate).is_file():
            examples = load_from_options(str(candidate), options)
            return [e.prompt_messages for e in (examples[:n] if n else examples)]
    if path:
        raise UserError("no such data file", file=str(path))
    system = data.get("system_prompt")
    # The data moved away: fall back to fixed prompts so parity is still checked.
    texts = ["Hello", "Adobe Creative Cloud annual licence", "Train ticket Berlin to Munich", "Dell laptop"][:n or None]
    return [([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": t}] for t in texts]


def without_trained_system(prompts: list[list[dict]], system_prompt: str | None) -> list[list[dict]]:
    """The same prompts as a plain user of the export sends them: the trained system prompt left out, because
    the exported chat template adds it."""
    if not system_prompt:
        return prompts
    return [p[1:] if p and p[0]["role"] == "system" and p[0]["content"] == system_prompt else p for p in prompts]


def check_parity(reference, exported, prompts: list[list[dict]], kind: str, max_new_tokens: int = 32,
                 exported_prompts: list[list[dict]] | None = None, exact: bool = True) -> ParityReport:
    """`reference` and `exported` are (model, tokenizer) pairs; both decode greedily. The exported model gets
    `exported_prompts` when given (the same inputs without the trained system prompt, which it must supply).
    `exact`: the export is in the evaluation precision."""
    from tuneforge.chat_encoding import encode_prompt
    from tuneforge.eval.generate import generate_batch
    from tuneforge.export.divergence import first_divergence, margins_of, transformers_logits

    exported_prompts = exported_prompts or prompts
    ref = generate_batch(reference[0], reference[1], prompts, max_new_tokens)
    out = generate_batch(exported[0], exported[1], exported_prompts, max_new_tokens)
    report = ParityReport(kind, len(prompts), 0, exact=exact)
    for p, bare, a, b in zip(prompts, exported_prompts, ref, out):
        if a.text == b.text:
            report.matches += 1
            continue
        # Both models over the variant's own answer: where the export first chooses otherwise, and by how much.
        v = transformers_logits(reference[0], encode_prompt(reference[1], p), a.ids)
        e = transformers_logits(exported[0], encode_prompt(exported[1], bare), a.ids)
        report.mismatches.append({"prompt": p[-1]["content"], "adapter": a.text, "exported": b.text,
                                  **margins_of(first_divergence(v, e, a.ids, reference[1]))})
    return report
