"""A server app as `tuneforge serve --ui` builds it, for the web app's and the datasets API's HTTP tests: API keys,
the files/jobs API (the worker is not started unless asked, so nothing trains) and the web app mounted."""

from __future__ import annotations

from contextlib import contextmanager

from fastapi.testclient import TestClient
from conftest import _LINES


@contextmanager
def ui_client(model_specs: list[str] | None = None, start_worker: bool = False):
    """(TestClient, KeyStore, JobsService) for an app serving `model_specs` (none: an empty catalog)."""
    from tuneforge.jobs.service import JobsService
    from tuneforge.serve.app import create_app
    from tuneforge.serve.catalog import Catalog
    from tuneforge.serve.keys import KeyStore
    from tuneforge.ui import mount_ui

    keys = KeyStore()
    catalog = Catalog.load(model_specs, max_batch=4) if model_specs else Catalog([], [])
    service = JobsService(catalog, max_file_bytes=2_000_000, log=lambda *a: None)
    if start_worker:
        service.start()
    app = create_app(catalog, keys, fine_tuning=service)
    mount_ui(app)
    try:
        with TestClient(app) as client:
            yield client, keys, service
    finally:
        if start_worker:
            service.close()
        else:
            service.store.close()
        catalog.close()


def login(client, key: str):
    return client.post("/ui/login", data={"key": key}, follow_redirects=False)


def invoice_csv(extra: list[tuple[str, str]] = ()) -> bytes:
    """A spreadsheet as an operations team exports it: `description,category` and the planted problems asked for.
    Line numbers are the spreadsheet's (header = line 1), so the 15 clean rows are lines 2-16."""
    rows = [(text, label) for label, texts in _LINES.items() for text in texts] + list(extra)
    return ("description,category\n" + "".join(f"{t},{c}\n" for t, c in rows)).encode()


# Lines 17-19 of invoice_csv(PLANTED): an exact copy of line 2, a contradiction of line 12 (a laptop is hardware),
# and an e-mail address.
PLANTED = [("adobe licence", "software"), ("dell laptop", "software"), ("jane.doe@example.com renewal", "software")]
