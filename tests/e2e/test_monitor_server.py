"""The maintenance cycle against a real `tuneforge serve` process: the official openai client's response ids are
accepted by POST /v1/feedback, the review queue is served, and a promotion (then a rollback) in the registry
switches the served version without a restart and without one failed request under 8 concurrent clients; the
rolled-away version is unloaded meanwhile."""

from __future__ import annotations

import sqlite3
import threading
import time
from types import SimpleNamespace

import httpx
import openai
import pytest
from conftest import run_cli, serve_env, served


@pytest.fixture(scope="module")
def server(tiny_variants, tmp_path_factory):
    home = tmp_path_factory.mktemp("monitor-home")
    env = serve_env(home)
    key = run_cli(env, "keys", "create", "reviewers").strip()
    run_cli(env, "models", "register", str(tiny_variants["alpha"]), "--name", "inv")
    run_cli(env, "models", "register", str(tiny_variants["beta"]), "--name", "inv")
    run_cli(env, "models", "promote", "inv:1", "--skip-gate")
    with served(home, "--model", "inv:1", "--follow-interval-s", "0.5") as (_, url):
        yield SimpleNamespace(url=url, key=key, home=home, env=env, log=home / "server.log",
                              client=openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0, timeout=60))


def _ask(client, text="dell laptop"):
    return client.chat.completions.create(model="inv", messages=[{"role": "user", "content": text}], temperature=0,
                                          max_tokens=4)


def test_openai_client_response_ids_are_accepted_as_feedback(server):
    resp = _ask(server.client)
    assert resp.id.startswith("chatcmpl-") and resp.model == "inv:1"
    auth = {"Authorization": f"Bearer {server.key}"}
    r = httpx.post(server.url + "/v1/feedback", headers=auth, json={"id": resp.id, "correct_output": "hardware"})
    assert r.status_code == 200, r.text
    assert r.json()["request_id"] == resp.id and r.json()["variant"] == "inv:1"
    r = httpx.post(server.url + "/v1/feedback", headers=auth, json={"id": resp.id, "rating": -1, "comment": "no"})
    assert r.status_code == 200, r.text

    conn = sqlite3.connect(server.home / "traffic.db")
    rows = conn.execute("SELECT variant, correct_output, rating, api_key, source FROM feedback WHERE request_id = ? "
                        "ORDER BY id", (resp.id,)).fetchall()
    logged = conn.execute("SELECT variant FROM traffic WHERE request_id = ?", (resp.id,)).fetchall()
    conn.close()
    assert logged == [("inv:1",)]
    prefix = run_cli(server.env, "keys", "list").split("\t")[2].rstrip(".")
    assert rows[0][:3] == ("inv:1", "hardware", None) and rows[1][:3] == ("inv:1", None, -1)
    assert rows[0][3].endswith(prefix) and rows[0][4] == "api"  # who sent it: key id and prefix, not the key

    missing = httpx.post(server.url + "/v1/feedback", headers=auth, json={"id": "chatcmpl-nothere", "rating": 1})
    assert missing.status_code == 404 and missing.json()["error"]["param"] == "id"
    empty = httpx.post(server.url + "/v1/feedback", headers=auth, json={"id": resp.id})
    assert empty.status_code == 400 and "correct_output" in empty.json()["error"]["message"]
    assert httpx.post(server.url + "/v1/feedback", json={"id": resp.id, "rating": 1}).status_code == 401

    # The same from the CLI.
    out = run_cli(server.env, "feedback", resp.id, "--correct-output", "software")
    assert resp.id in out and "inv:1" in out


def test_review_queue_endpoint_serves_unreviewed_traffic(server):
    ids = {_ask(server.client, text).id for text in ("usb keyboard", "taxi airport", "slack annual")}
    r = httpx.get(server.url + "/v1/review/queue", params={"variant": "inv", "limit": 10},
                  headers={"Authorization": f"Bearer {server.key}"}, timeout=120)
    assert r.status_code == 200, r.text
    items = r.json()["data"]
    assert ids <= {i["request_id"] for i in items}
    assert all(i["reason"] in ("invalid", "low_confidence", "disagreement", "random") for i in items)


def test_promotion_and_rollback_switch_the_served_version_with_zero_failed_requests(server):
    failures, seen, stop = [], [], threading.Event()

    def client_loop(i):
        client = openai.OpenAI(base_url=server.url + "/v1", api_key=server.key, max_retries=0, timeout=120)
        while not stop.is_set():
            try:
                seen.append((time.time(), _ask(client, f"dell laptop {i}").model))
            except Exception as err:  # any failure counts
                failures.append(repr(err))

    threads = [threading.Thread(target=client_loop, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()

    def wait_for(model, timeout=120):
        start = time.time()
        while time.time() - start < timeout:
            if sum(m == model for t, m in seen if t > start) >= 8:
                return True
            time.sleep(0.2)
        return False

    try:
        assert wait_for("inv:1")
        run_cli(server.env, "models", "promote", "inv:2", "--skip-gate")
        switched = wait_for("inv:2")
        run_cli(server.env, "models", "rollback", "inv")
        rolled_back = wait_for("inv:1")
        # The rolled-away version (archived) leaves /v1/models and memory while the clients keep asking.
        start = time.time()
        while "unloaded inv:2" not in server.log.read_text() and time.time() - start < 60:
            time.sleep(0.2)
        listed = [m.id for m in server.client.models.list()]
        wait_for("inv:1")
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=120)
    assert failures == []
    assert switched and rolled_back, server.log.read_text()
    assert len(seen) > 24
    assert "now serving inv:2" in server.log.read_text()
    assert "unloaded inv:2" in server.log.read_text() and "inv:2" not in listed and "inv:1" in listed
