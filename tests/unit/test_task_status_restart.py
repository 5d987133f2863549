"""The last evaluation's and retrain's status outlive the server (serve/task_store.py): after a restart on the same
TUNEFORGE_HOME the API and the Compare and Monitor pages show how the last one ended and why, and a task that was
still running when the server stopped is shown as failed, saying so, instead of running forever."""

from __future__ import annotations

import shutil
import threading
from contextlib import contextmanager

from conftest import _LINES, chat_row, register_variant, write_jsonl
from fastapi.testclient import TestClient

from tuneforge.jobs.service import JobsService
from tuneforge.monitor.traffic_log import TrafficLog
from tuneforge.serve.app import create_app
from tuneforge.serve.background import Tasks
from tuneforge.serve.catalog import Catalog
from tuneforge.serve.keys import KeyStore
from tuneforge.serve.task_store import INTERRUPTED, TaskStore
from tuneforge.ui import mount_ui


@contextmanager
def _server(key: str):
    """A server app (API and web app) on the test's home, logged in with `key`; a second one is a restart."""
    keys = KeyStore()
    service = JobsService(Catalog([], []), max_file_bytes=1_000_000)
    traffic = TrafficLog()
    app = create_app(service.catalog, keys, traffic, fine_tuning=service)
    mount_ui(app)
    try:
        with TestClient(app) as client:
            client.headers["Authorization"] = f"Bearer {key}"
            assert client.post("/ui/login", data={"key": key}, follow_redirects=False).status_code == 303
            yield client
    finally:
        traffic.close()
        service.store.close()
        keys.conn.close()


def test_a_failed_evaluation_and_retrain_are_shown_after_a_restart(tiny_variants, tmp_path):
    alice = KeyStore().create("alice")[0]
    register_variant(shutil.copytree(tiny_variants["alpha"], tmp_path / "mon"), "ft-mon", owner="alice")
    gone = shutil.copytree(tiny_variants["alpha"], tmp_path / "gone")
    register_variant(gone, "ft-gone", owner="alice")
    held = write_jsonl(tmp_path / "held.jsonl", [chat_row(t, lab) for lab, ts in _LINES.items() for t in ts[:2]])

    with _server(alice) as client:
        # No production version: the retrain refuses. The evaluated run folder was deleted: the evaluation fails.
        assert client.post("/v1/monitor/ft-mon/retrain", json={"max_steps": 1}).status_code == 200
        with open(held, "rb") as f:
            file_id = client.post("/v1/files", files={"file": ("held.jsonl", f)},
                                  data={"purpose": "fine-tune"}).json()["id"]
        shutil.rmtree(gone)
        assert client.post("/v1/evaluations", json={"model": "ft-gone:1", "eval_file": file_id}).status_code == 200
        assert client.app.state.tasks.wait("retrain:ft-mon").status == "failed"
        assert client.app.state.tasks.wait("eval:ft-gone:1").status == "failed"
        retrain = client.get("/v1/monitor/ft-mon/retrain").json()["task"]
        evaluation = client.get("/v1/evaluations/ft-gone:1").json()
    assert "production" in retrain["error"] and retrain["finished_at"] >= retrain["started_at"]
    assert evaluation["status"] == "failed" and "cannot resolve" in evaluation["error"], evaluation

    with _server(alice) as client:  # the restart: nothing in memory, the same home
        assert client.get("/v1/monitor/ft-mon/retrain").json()["task"] == retrain
        assert client.get("/v1/evaluations/ft-gone:1").json() == evaluation
        page = client.get("/ui/monitor/retrain?variant=ft-mon").text
        assert 'role="alert"' in page and "The retrain failed:" in page and "production" in page
        page = client.get("/ui/compare/evaluation?model=ft-gone:1").text
        assert 'role="alert"' in page and "The evaluation failed:" in page
        # Still the owner's only.
        client.headers["Authorization"] = f"Bearer {KeyStore().create('bob')[0]}"
        assert client.get("/v1/monitor/ft-mon/retrain").status_code == 404
        assert client.get("/v1/evaluations/ft-gone:1").status_code == 404


def test_a_task_running_when_the_server_stopped_is_failed_by_the_next_server():
    release = threading.Event()
    before = Tasks(TaskStore())
    before.start("retrain:ft-mon", lambda log: release.wait(30) and None)
    assert before.get("retrain:ft-mon").status == "running"

    after = Tasks(TaskStore())  # the next server on the same home: the first one's thread is gone
    task = after.get("retrain:ft-mon")
    assert task.status == "failed" and task.error == INTERRUPTED and task.finished_at >= task.started_at
    assert after.get("eval:never:1") is None
    release.set()
    before.wait("retrain:ft-mon")
