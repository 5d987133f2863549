"""The learned answer format (models/answer_grammar.py) on the real tokenizer and the real extraction demo: every
reference answer of examples/invoice-extraction, tokenised as SmolLM2 writes it, fits the grammar learned from the
training answers, so the server's default format never forbids what the variant was trained to write."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
DEMO = Path(__file__).resolve().parents[2] / "examples" / "invoice-extraction"


def _answers(name: str) -> list[str]:
    lines = (DEMO / name).read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["messages"][-1]["content"] for line in lines if line.strip()]


def test_every_reference_answer_of_the_demo_fits_its_learned_format():
    import llguidance.hf
    from llguidance import LLMatcher
    from transformers import AutoTokenizer

    from tuneforge.data.answer_schema import answer_schema
    from tuneforge.models.resolve import resolve_base
    from tuneforge.models.answer_grammar import answer_grammar

    tok = AutoTokenizer.from_pretrained(resolve_base("smollm2-135m").path)
    train, test = _answers("train.jsonl"), _answers("test.jsonl")
    grammar = LLMatcher.grammar_from_lark(str(answer_grammar(answer_schema(train))))
    ll_tokenizer = llguidance.hf.from_tokenizer(tok)
    misfits = []
    for answer in train + test:
        matcher = LLMatcher(ll_tokenizer, grammar, log_level=0)
        ids = tok(answer, add_special_tokens=False)["input_ids"]
        if not (all(matcher.consume_token(t) for t in ids) and matcher.is_accepting()):
            misfits.append(answer)
    assert not misfits, misfits[:3]
