"""The server's engine on the real bundled model (SmolLM2-135M): JSON-schema answers through llguidance fit the
schema, and logprobs over the real 49k vocabulary are a proper distribution's log-probabilities."""

from __future__ import annotations

import json
import math
import threading

import pytest

pytestmark = pytest.mark.integration

SCHEMA = {"type": "object", "properties": {"category": {"enum": ["software", "travel", "hardware"]},
                                           "vendor": {"type": "string", "maxLength": 20}},
          "required": ["category", "vendor"], "additionalProperties": False}


def test_schema_answers_and_logprobs_on_the_bundled_model():
    from tuneforge.chat_encoding import encode_prompt
    from tuneforge.models.resolve import resolve_base
    from tuneforge.serve.engine import Engine, GenRequest

    engine = Engine(resolve_base("smollm2-135m").path, max_batch=4)
    try:
        ids = encode_prompt(engine.tokenizer, [{"role": "user", "content": "Dell laptop, 1800 EUR. Answer as JSON."}])
        results: dict[int, list] = {0: [], 1: []}
        done = threading.Semaphore(0)

        def sink(i):
            def on_event(kind, *args):
                results[i].append((kind, *args))
                if kind != "delta":
                    done.release()
            return on_event

        engine.submit_many([
            GenRequest(ids, max_tokens=40, temperature=0, constraint=engine.grammars.row(SCHEMA), on_event=sink(0)),
            GenRequest(ids, max_tokens=5, temperature=0, logprobs=5, on_event=sink(1)),
        ])
        assert done.acquire(timeout=300) and done.acquire(timeout=300)
        text = "".join(e[1] for e in results[0] if e[0] == "delta")
        value = json.loads(text)
        assert results[0][-1][:2] == ("done", "stop") and value["category"] in SCHEMA["properties"]["category"]["enum"]
        entries = [entry for e in results[1] if e[0] == "delta" for entry in e[2]]
        assert entries
        for entry in entries:
            top = entry["top_logprobs"]
            assert len(top) == 5 and top[0]["logprob"] == pytest.approx(entry["logprob"])  # greedy took the best
            assert sum(math.exp(t["logprob"]) for t in top) <= 1 + 1e-5
    finally:
        engine.close()
