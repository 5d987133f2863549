"""Schemathesis generates requests from the server's own OpenAPI schema (valid bodies and invalid ones, odd
strings, huge numbers) and checks that none gets a 5xx. Bounded for `make test`: a few dozen examples per route
and mode on the tiny model; set TUNEFORGE_FUZZ_EXAMPLES for a longer run.

(Driven through hypothesis directly: schemathesis' pytest plugin does not load under pytest 9.)
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from tuneforge.serve.app import create_app
from tuneforge.serve.catalog import Catalog, ServedModel
from tuneforge.serve.engine import Engine

EXAMPLES = int(os.environ.get("TUNEFORGE_FUZZ_EXAMPLES", "25"))


@pytest.fixture(scope="module")
def fuzz_schema(tiny_model_dir):
    engine = Engine(tiny_model_dir, max_batch=8, max_queue=64, batch_wait_s=0.0)
    catalog = Catalog([ServedModel("tiny", "base", str(tiny_model_dir), None, None, 0, engine)], [engine])
    yield schemathesis.openapi.from_asgi("/openapi.json", create_app(catalog))
    catalog.close()


REFUSED = {"tools", "tool_choice", "functions", "function_call", "presence_penalty", "frequency_penalty",
           "logit_bias", "echo", "best_of", "suffix"}


def _honoured_only(body: dict) -> None:
    """Steer positive examples to generation: the served model, no fields that are refused by design (each of
    those refusals has its own test in test_server_api.py)."""
    body["model"] = "tiny"
    for key in REFUSED & set(body):
        del body[key]
    for m in body.get("messages") or []:
        if isinstance(m, dict):
            for key in ("name", "tool_calls", "tool_call_id"):
                m.pop(key, None)
            if m.get("role") == "tool":
                m["role"] = "user"
    if not body.get("stream"):
        body.pop("stream_options", None)
    if body.get("top_logprobs") and not body.get("logprobs"):
        body["logprobs"] = True


def test_the_schema_covers_the_api(fuzz_schema):
    paths = {op.ok().path for op in fuzz_schema.get_all_operations()}
    assert {"/v1/chat/completions", "/v1/completions", "/v1/models"} <= paths


@pytest.mark.parametrize("path, mode", [
    ("/v1/chat/completions", GenerationMode.POSITIVE), ("/v1/chat/completions", GenerationMode.NEGATIVE),
    ("/v1/completions", GenerationMode.POSITIVE), ("/v1/completions", GenerationMode.NEGATIVE),
    ("/v1/models/{model_id}", GenerationMode.POSITIVE),  # a free string path parameter: nothing is invalid
])
def test_no_request_gets_a_server_error(fuzz_schema, path, mode):
    op = next(o.ok() for o in fuzz_schema.get_all_operations() if o.ok().path == path)
    seen = []

    @given(case=op.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def run(case):
        if mode is GenerationMode.POSITIVE and isinstance(case.body, dict) and "model" in case.body:
            _honoured_only(case.body)
        response = case.call_and_validate(checks=[not_a_server_error])
        seen.append(response.status_code)


    run()
    assert seen and all(code < 500 for code in seen)
    if mode is GenerationMode.POSITIVE and path != "/v1/models/{model_id}":
        assert 200 in seen, seen  # some generated requests really generated
