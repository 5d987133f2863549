"""The HTTP API behind the Compare, Deploy, Review and Monitor pages, as a client uses it: the registry (versions,
stage history, lineage, promotion through the gate with its reason, rollback), evaluations (read, or run on
held-out data), the monitor's series and alerts, retraining; and owner isolation: another key gets 404 or an
empty list, a name registered from the command line is read-only to keys that are not admin."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import _LINES, chat_row, register_variant, write_eval, write_jsonl
from fastapi.testclient import TestClient

from tuneforge.jobs.service import JobsService
from tuneforge.jobs.store import now
from tuneforge.monitor.traffic_log import TrafficLog
from tuneforge.registry.store import Registry
from tuneforge.serve.app import create_app
from tuneforge.serve.catalog import Catalog
from tuneforge.serve.keys import KeyStore


@pytest.fixture
def api(tmp_path):
    """A server app with keys (alice, bob, an admin), the files/jobs API (worker not started) and a traffic log."""
    keys = KeyStore()
    auth = {name: {"Authorization": f"Bearer {keys.create(name, admin=name == 'admin')[0]}"}
            for name in ("alice", "bob", "admin")}
    service = JobsService(Catalog([], []), max_file_bytes=1_000_000)
    traffic = TrafficLog()
    app = create_app(service.catalog, keys, traffic, fine_tuning=service)
    with TestClient(app) as client:
        client.auth_headers, client.service, client.traffic = auth, service, traffic
        yield client
    traffic.close()
    service.store.close()


def _run(tiny_variants, tmp_path, which="alpha", folder=None):
    """A copy of a tiny variant's run folder: evaluations write into it, so tests never share one."""
    return shutil.copytree(tiny_variants[which], tmp_path / (folder or which))


def test_a_name_registered_from_the_command_line_is_read_only_to_the_monitor_api_too(api, tiny_variants, tmp_path):
    """Keys may read the operator's names; only an admin may change their monitor policy or start a retrain."""
    from tuneforge.monitor.policy import policy_path

    bob, admin = api.auth_headers["bob"], api.auth_headers["admin"]
    register_variant(_run(tiny_variants, tmp_path), "ops")  # no owner
    assert api.get("/v1/monitor/ops/policy", headers=bob).status_code == 200
    assert api.patch("/v1/monitor/ops/policy", headers=bob, json={"min_corrections": 1}).status_code == 403
    assert not policy_path("ops").exists()
    assert api.post("/v1/monitor/ops/retrain", headers=bob, json={}).status_code == 403
    r = api.patch("/v1/monitor/ops/policy", headers=admin, json={"min_corrections": 1})
    assert r.status_code == 200 and r.json()["min_corrections"] == 1


def test_registry_lists_only_the_callers_names_and_promotes_through_the_gate_with_its_reason(api, tiny_variants,
                                                                                              tmp_path):
    alice, bob, admin = (api.auth_headers[k] for k in ("alice", "bob", "admin"))
    run = _run(tiny_variants, tmp_path)
    good = write_eval(tmp_path / "good.json", tuned=0.9, baseline=0.3)
    worse = write_eval(tmp_path / "worse.json", tuned=0.35, baseline=0.3)
    register_variant(run, "ft-abc", good, owner="alice")
    register_variant(run, "ft-abc", worse)
    register_variant(run, "ops", good)  # from the command line: no owner

    assert api.get("/v1/registry/models").status_code == 401
    names = lambda who: sorted(m["name"] for m in api.get("/v1/registry/models", headers=who).json()["data"])  # noqa
    assert names(alice) == ["ft-abc", "ops"] and names(bob) == ["ops"] and names(admin) == ["ft-abc", "ops"]
    for path in ("/v1/registry/models/ft-abc", "/v1/evaluations/ft-abc:1", "/v1/monitor/ft-abc"):
        assert api.get(path, headers=bob).status_code == 404, path
    assert api.post("/v1/registry/models/ft-abc:1/promote", headers=bob, json={}).status_code == 404
    assert api.post("/v1/registry/models/ops:1/promote", headers=bob, json={}).status_code == 403

    r = api.post("/v1/registry/models/ft-abc:2/promote", headers=alice, json={})
    assert r.status_code == 409 and r.json()["error"]["code"] == "gate_failed"
    assert "not promoted" in r.json()["error"]["message"] and "FAIL" in r.json()["error"]["message"]

    r = api.post("/v1/registry/models/ft-abc:1/promote", headers=alice, json={"to": "production"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["stage"] == "production" and body["gate"] and all(g["passed"] for g in body["gate"])
    assert body["gate"][0]["candidate"] == pytest.approx(0.9) and body["gate"][0]["incumbent"] == pytest.approx(0.3)
    assert body["reason"].startswith("promoted (PASS")

    shown = api.get("/v1/registry/models/ft-abc", headers=alice).json()
    assert shown["production"] == "ft-abc:1"
    v1 = next(v for v in shown["versions"] if v["ref"] == "ft-abc:1")
    assert [(h["from"], h["to"]) for h in v1["history"]] == [(None, "candidate"), ("candidate", "production")]
    assert v1["owner"] == "alice" and v1["metrics"]["fine-tuned"]["accuracy"] == pytest.approx(0.9)

    # A better third version replaces it; rolling back puts version 1 back and archives version 3.
    register_variant(run, "ft-abc", write_eval(tmp_path / "better.json", tuned=1.0, baseline=0.3))
    assert api.post("/v1/registry/models/ft-abc:3/promote", headers=alice, json={"confidence": 0}).status_code == 200
    assert api.post("/v1/registry/models/ft-abc/rollback", headers=bob).status_code == 404
    r = api.post("/v1/registry/models/ft-abc/rollback", headers=alice)
    assert r.status_code == 200 and r.json()["restored"] == "ft-abc:1" and r.json()["archived"] == "ft-abc:3"
    stages = {v["ref"]: v["stage"] for v in api.get("/v1/registry/models/ft-abc", headers=alice).json()["versions"]}
    assert stages == {"ft-abc:1": "production", "ft-abc:2": "candidate", "ft-abc:3": "archived"}
    r = api.post("/v1/registry/models/ops/rollback", headers=admin)
    assert r.status_code == 400 and "no version" in r.json()["error"]["message"]


def _finished_job(api, tiny_variants, tmp_path, owner="alice") -> dict:
    """A job row that reached the end of training (its run folder holds run.json), finished by the worker as a
    real job is: registered under `ft-<job>`, owned by the job's owner, listed as a fine-tuned model."""
    store = api.service.store
    run = _run(tiny_variants, tmp_path, folder=f"job-{owner}")
    job_id = f"ftjob-{owner}0000000000000000000"
    store.add_job(id=job_id, owner=owner, created_at=now(), model="tiny", base="tiny", training_file="file-x",
                  seed=1, request={"body": {}}, hyperparameters={}, status="running", run_dir=str(run))
    api.service.worker._finish(store.get_job(job_id))
    return store.get_job(job_id)


def test_a_finished_job_is_registered_under_its_owner_and_evaluated_on_held_out_data(api, tiny_variants, tmp_path,
                                                                                    one_torch_thread):
    alice, bob = api.auth_headers["alice"], api.auth_headers["bob"]
    job = _finished_job(api, tiny_variants, tmp_path)
    assert job["status"] == "succeeded"
    model = api.get("/v1/registry/models", headers=alice).json()["data"]
    assert [(m["name"], m["versions"][0]["fine_tuned_model"]) for m in model] == [
        ("ft-alice0000000000000000000", job["fine_tuned_model"])]
    assert api.get("/v1/registry/models", headers=bob).json()["data"] == []
    for ref in (job["id"], job["fine_tuned_model"], "ft-alice0000000000000000000:1"):
        assert api.get(f"/v1/evaluations/{ref}", headers=alice).json()["status"] == "not_started"
        assert api.get(f"/v1/evaluations/{ref}", headers=bob).status_code == 404

    # The tiny run has no held-out data of its own: the API says so, naming the field, before any work starts.
    r = api.post("/v1/evaluations", headers=alice, json={"model": job["id"]})
    assert r.status_code == 400 and r.json()["error"]["param"] == "eval_file"

    held = write_jsonl(tmp_path / "held.jsonl",
                       [chat_row(t + " q4", lab) for lab, ts in _LINES.items() for t in ts[:2]])
    with open(held, "rb") as f:
        file_id = api.post("/v1/files", headers=alice, files={"file": ("held.jsonl", f)},
                           data={"purpose": "fine-tune"}).json()["id"]
    assert api.post("/v1/evaluations", headers=bob, json={"model": job["id"], "eval_file": file_id}).status_code == 404
    r = api.post("/v1/evaluations", headers=alice, json={"model": job["id"], "eval_file": file_id})
    assert r.status_code == 200 and r.json()["status"] in ("running", "succeeded")
    task = api.app.state.tasks.wait("eval:ft-alice0000000000000000000:1", timeout=300)
    assert task.status == "succeeded", task.error

    ev = api.get(f"/v1/evaluations/{job['fine_tuned_model']}", headers=alice).json()
    assert ev["status"] == "succeeded" and ev["examples"] == 6 and ev["task"] == "classification"
    kinds = {s["name"]: s["kind"] for s in ev["systems"]}
    assert kinds["fine-tuned"] == "variant" and "zero-shot" in kinds.values() and "classical" in kinds.values()
    tuned = next(s for s in ev["systems"] if s["name"] == "fine-tuned")
    lo, hi = tuned["ci"]["accuracy"]
    assert lo - 1e-9 <= tuned["metrics"]["accuracy"] <= hi + 1e-9
    assert "Recommendation:" in ev["recommendation"]
    wrong = ev["worst_errors"]["examples"]
    assert all(not ex["right"]["fine-tuned"] for ex in wrong)
    assert len(wrong) == round(6 * (1 - tuned["metrics"]["accuracy"]))
    # Recorded in the registry, so the gate can read it at promotion.
    version = api.get("/v1/registry/models/ft-alice0000000000000000000", headers=alice).json()["versions"][0]
    assert version["evaluated"] and version["metrics"]["fine-tuned"]["accuracy"] == tuned["metrics"]["accuracy"]


def _log(traffic, rid, text, answer, variant, confidence=0.8):
    traffic.record(request_id=rid, endpoint="chat.completion", model=variant, variant=variant, status=200,
                   latency_ms=10.0 + int(rid.rsplit("-", 1)[1]),
                   request={"model": variant, "messages": [{"role": "user", "content": text}]},
                   response={"id": rid, "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}}]},
                   label_probs={answer: confidence}, confidence=confidence)


def test_monitor_series_alerts_and_retrain_status_are_the_owners_only(api, tiny_variants, tmp_path):
    alice, bob = api.auth_headers["alice"], api.auth_headers["bob"]
    data = write_jsonl(tmp_path / "train.jsonl", [chat_row(t, lab) for lab, ts in _LINES.items() for t in ts])
    run = _run(tiny_variants, tmp_path)
    record = json.loads((run / "run.json").read_text())
    record["data"]["path"] = str(data)
    (run / "run.json").write_text(json.dumps(record))
    register_variant(run, "ft-mon", owner="alice")
    for i in range(40):  # two windows of 20: the model answers "software" to everything
        label = sorted(_LINES)[i % 3]
        _log(api.traffic, f"chatcmpl-{i}", _LINES[label][i % 5], "software", "ft-mon:1")
    api.traffic.flush()
    for i in range(0, 40, 2):  # reviewers correct every second answer in the first window... and the second
        api.post("/v1/feedback", headers=alice, json={"id": f"chatcmpl-{i}", "correct_output": sorted(_LINES)[i % 3]})

    r = api.get("/v1/monitor/ft-mon", headers=alice, params={"window": 20})
    assert r.status_code == 200, r.text
    m = r.json()
    assert m["requests"] == 40 and m["corrections"] == 20 and m["version"] == "ft-mon:1"
    s = m["series"]
    assert s["requests"] == [20, 20] and len(s["t"]) == 2
    assert s["latency_p50_ms"][0] == pytest.approx(19.5) and s["latency_p50_ms"][1] == pytest.approx(39.5)
    assert s["estimated_accuracy"] == [pytest.approx(0.8), pytest.approx(0.8)]
    # Reviewed: the even requests; "software" is right on those with i % 3 == 2 (sorted labels: hardware, software,
    # travel -> index 1). Count them per window.
    right = [sum(1 for i in range(w, w + 20, 2) if i % 3 == 1) / 10 for w in (0, 20)]
    assert s["reviewed_accuracy"] == [pytest.approx(x) for x in right] and s["reviewed"] == [10, 10]
    assert m["retrain"]["corrections_waiting"] == 20 and m["retrain"]["min_corrections"] == 30
    assert m["retrain"]["min_fresh_inputs"] == 77 and 0 < m["retrain"]["fresh_inputs_waiting"] < 20
    assert api.get("/v1/monitor/ft-mon", headers=bob).status_code == 404
    # The review queue and feedback on another owner's answers: as unknown as answers that do not exist.
    queue = api.get("/v1/review/queue", headers=alice, params={"variant": "ft-mon", "limit": 5}).json()["data"]
    assert len(queue) == 5 and all(int(item["request_id"].split("-")[1]) % 2 for item in queue)  # unreviewed only
    assert api.get("/v1/review/queue", headers=bob, params={"variant": "ft-mon"}).status_code == 404
    r = api.post("/v1/feedback", headers=bob, json={"id": "chatcmpl-1", "correct_output": "travel"})
    assert r.status_code == 404 and r.json()["error"]["param"] == "id"

    st = api.get("/v1/monitor/ft-mon/retrain", headers=alice).json()
    assert st["policy"]["min_corrections"] == 30 and st["task"] is None and st["last_report"] is None
    assert api.post("/v1/monitor/ft-mon/retrain", headers=bob, json={}).status_code == 404
    # Too few corrections (and no production version): the retrain refuses, and says why.
    assert api.post("/v1/monitor/ft-mon/retrain", headers=alice, json={"max_steps": 1}).status_code == 200
    task = api.app.state.tasks.wait("retrain:ft-mon")
    assert task.status == "failed" and "production" in task.error
    shown = api.get("/v1/monitor/ft-mon/retrain", headers=alice).json()["task"]
    assert shown["status"] == "failed" and shown["error"] == task.error


def test_a_jobs_model_answers_to_its_registry_name_for_its_owner_only_and_logs_traffic_under_it(tiny_variants,
                                                                                                tmp_path):
    from tuneforge.serve.catalog import ServedModel, UnknownModel
    from tuneforge.serve.principal import Principal, _current

    register_variant(_run(tiny_variants, tmp_path), "ft-abc", owner="alice")
    served = ServedModel("ft:tiny:alice::abc", "variant", "tiny", str(tmp_path), None, 0, owner="alice",
                         variant_ref="ft-abc:1")
    catalog = Catalog([served], [])
    assert served.traffic_variant == "ft-abc:1"  # monitor, review and retrain see the registry's name
    token = _current.set(Principal("alice"))
    try:
        assert catalog.resolve("ft-abc") is served and catalog.resolve("ft-abc@candidate") is served
        _current.set(Principal("bob"))
        with pytest.raises(UnknownModel):
            catalog.resolve("ft-abc")
        with pytest.raises(UnknownModel):
            catalog.resolve("ft:tiny:alice::abc")
    finally:
        _current.reset(token)


def test_retrain_through_the_api_registers_the_next_version_of_the_owners_name(api, label_data, tiny_model_dir,
                                                                              tmp_path, one_torch_thread):
    """The Monitor page's "Retrain now": corrections of the production version -> `tuneforge retrain`'s logic in the
    background -> the next version, registered under the same (owned) name, with its lineage and report."""
    import random

    import yaml

    from tuneforge.config import EvalConfig, TrainConfig
    from tuneforge.eval.compare import run_eval
    from tuneforge.monitor.policy import policy_path
    from tuneforge.train.sft import train

    alice = api.auth_headers["alice"]
    run = train(TrainConfig(data=str(label_data), base=str(tiny_model_dir), out=str(tmp_path / "run"), max_steps=2,
                            batch_size=4, progress=False, report_to="none", eval_split=0.2), log=lambda m: None)
    frozen = write_jsonl(tmp_path / "frozen.jsonl", [chat_row(t + " ltd", lab) for lab, ts in _LINES.items()
                                                     for t in ts[:2]])
    run_eval(EvalConfig(model=str(run), data=str(frozen), baselines=False, bootstrap=0, html="none"),
             log=lambda m: None)
    register_variant(run, "ft-ret", owner="alice")
    registry = Registry()
    registry.promote("ft-ret:1", "production", require_gate=False, note="first deployment")
    registry.close()
    policy_path("ft-ret").parent.mkdir(parents=True, exist_ok=True)
    policy_path("ft-ret").write_text(yaml.safe_dump({"min_corrections": 20, "gate_confidence": None}))
    rng = random.Random(0)
    for i in range(30):
        label = rng.choice(sorted(_LINES))
        _log(api.traffic, f"chatcmpl-{i}", f"{rng.choice(_LINES[label])} order {i}", "software", "ft-ret:1")
    api.traffic.flush()
    for i in range(30):
        text = api.get("/v1/review/queue", headers=alice, params={"variant": "ft-ret", "limit": 1}).json()["data"]
        assert text, "the queue holds every unreviewed answer"
        label = text[0]["input"].split(" order ")[0]
        truth = next(lab for lab, ts in _LINES.items() if label in ts)
        assert api.post("/v1/feedback", headers=alice, json={"id": text[0]["request_id"],
                                                             "correct_output": truth}).status_code == 200

    assert api.get("/v1/monitor/ft-ret/retrain", headers=alice).json()["policy"]["min_corrections"] == 20
    r = api.post("/v1/monitor/ft-ret/retrain", headers=alice, json={"max_steps": 1})
    assert r.status_code == 200 and r.json()["task"]["status"] in ("running", "succeeded")
    task = api.app.state.tasks.wait("retrain:ft-ret", timeout=600)
    assert task.status == "succeeded", task.error
    assert task.result["new"] == "ft-ret:2" and task.result["why"]

    shown = api.get("/v1/registry/models/ft-ret", headers=alice).json()
    assert [v["ref"] for v in shown["versions"]] == ["ft-ret:1", "ft-ret:2"]
    assert all(v["owner"] == "alice" for v in shown["versions"])  # the retrained version stays the owner's
    assert [e["step"] for e in shown["lineage"]][:3] == ["dataset", "train", "gate"]
    report = api.get("/v1/monitor/ft-ret/retrain", headers=alice).json()["last_report"]
    assert report["new"] == "ft-ret:2" and report["data"]["corrections_added"] + report["fresh_reviewed"] == 30
    assert api.get("/v1/registry/models", headers=api.auth_headers["bob"]).json()["data"] == []


def test_the_server_follows_a_promotion_of_a_jobs_name_and_keeps_the_new_version_its_owners(tiny_variants,
                                                                                          tmp_path):
    import time

    from tuneforge.serve.catalog import ServedModel, UnknownModel
    from tuneforge.serve.follow import RegistryFollower
    from tuneforge.serve.principal import Principal, _current

    first = _run(tiny_variants, tmp_path)
    register_variant(first, "ft-abc", owner="alice")
    register_variant(_run(tiny_variants, tmp_path, "beta"), "ft-abc")  # a retrain's version 2
    registry = Registry()
    registry.promote("ft-abc:1", "production", require_gate=False)
    registry.promote("ft-abc:2", "production", require_gate=False)
    registry.close()
    job_model = ServedModel("ft:tiny:alice::abc", "variant", "tiny", str(first), None, 0, owner="alice",
                            variant_ref="ft-abc:1")
    catalog = Catalog([job_model], [])
    follower = RegistryFollower(catalog, interval=0.1, log=lambda m: None)
    try:
        deadline = time.time() + 120
        while "ft-abc:2" not in catalog.entries and time.time() < deadline:
            time.sleep(0.1)
        time.sleep(0.3)  # a few more polls: version 1 (now staging) is served already, never loaded twice
    finally:
        catalog.close()
    assert sorted(catalog.entries) == ["ft-abc:2", "ft:tiny:alice::abc"]
    assert catalog.entries["ft-abc:2"].owner == "alice"
    token = _current.set(Principal("bob"))
    try:
        with pytest.raises(UnknownModel):
            catalog.resolve("ft-abc")
    finally:
        _current.reset(token)


def test_while_a_promoted_version_loads_the_previous_one_answers_only_its_owner(tiny_variants, tmp_path):
    from tuneforge.serve.catalog import ServedModel, UnknownModel
    from tuneforge.serve.follow import RegistryFollower
    from tuneforge.serve.principal import Principal, _current

    first = _run(tiny_variants, tmp_path)
    register_variant(first, "ft-abc", owner="alice")
    job_model = ServedModel("ft:tiny:alice::abc", "variant", "tiny", str(first), None, 0, owner="alice",
                            variant_ref="ft-abc:1")
    catalog = Catalog([job_model], [])
    RegistryFollower(catalog, start=False)  # polled by nobody here: version 2 stays "loading"
    token = _current.set(Principal("alice"))
    try:
        assert catalog.resolve("ft-abc") is job_model
        register_variant(first, "ft-abc")
        registry = Registry()
        registry.promote("ft-abc:2", "production", require_gate=False)
        registry.close()
        assert catalog.resolve("ft-abc") is job_model  # alice keeps her answers until version 2 is loaded
        _current.set(Principal("bob"))
        with pytest.raises(UnknownModel):
            catalog.resolve("ft-abc")
    finally:
        _current.reset(token)
