"""Schemathesis on the files and fine-tuning jobs routes: generated requests (valid and invalid bodies, odd query
values, free path parameters) never get a 5xx. The worker is not started, so nothing trains."""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from tuneforge.serve.app import create_app
from tuneforge.serve.catalog import Catalog

EXAMPLES = int(os.environ.get("TUNEFORGE_FUZZ_EXAMPLES", "25"))
ROUTES = [
    ("POST", "/v1/fine_tuning/jobs", GenerationMode.POSITIVE), ("POST", "/v1/fine_tuning/jobs", GenerationMode.NEGATIVE),
    ("GET", "/v1/fine_tuning/jobs", GenerationMode.NEGATIVE), ("GET", "/v1/files", GenerationMode.NEGATIVE),
    ("POST", "/v1/files", GenerationMode.POSITIVE), ("POST", "/v1/files", GenerationMode.NEGATIVE),
    ("GET", "/v1/fine_tuning/jobs/{job_id}/events", GenerationMode.NEGATIVE),
    ("GET", "/v1/fine_tuning/jobs/{job_id}/checkpoints", GenerationMode.POSITIVE),
    ("POST", "/v1/fine_tuning/jobs/{job_id}/cancel", GenerationMode.POSITIVE),
    ("DELETE", "/v1/models/{model_id}", GenerationMode.POSITIVE),
    ("GET", "/v1/files/{file_id}/content", GenerationMode.POSITIVE),
]


@pytest.fixture
def fuzz_schema():
    from tuneforge.jobs.service import JobsService

    service = JobsService(Catalog([], []), max_file_bytes=10_000)  # TUNEFORGE_HOME is this test's own
    yield schemathesis.openapi.from_asgi("/openapi.json", create_app(service.catalog, fine_tuning=service))
    service.store.close()


@pytest.mark.parametrize("method, path, mode", ROUTES)
def test_no_request_gets_a_server_error(fuzz_schema, method, path, mode):
    op = next(o.ok() for o in fuzz_schema.get_all_operations() if o.ok().path == path and o.ok().method.upper() == method)
    seen = []

    @given(case=op.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def run(case):
        seen.append(case.call_and_validate(checks=[not_a_server_error]).status_code)

    run()
    assert seen and all(code < 500 for code in seen)
