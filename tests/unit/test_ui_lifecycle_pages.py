"""The Compare, Deploy, Review and Monitor pages over HTTP, logged in as a user: the rendered HTML shows the
numbers the API holds (metrics with intervals, the recommendation, worst errors, the gate's reason, stage
history, the review queue, the monitor's windows), the actions go through the API (promote, roll back, feedback,
retrain, live answers), and another key's variants are not shown."""

from __future__ import annotations

import json
import re
import shutil
from html import unescape

import pytest
import yaml
from conftest import _LINES, chat_row, register_variant, write_eval, write_jsonl
from fastapi.testclient import TestClient

from tuneforge.jobs.service import JobsService
from tuneforge.monitor.traffic_log import TrafficLog
from tuneforge.monitor.policy import policy_path
from tuneforge.serve.app import create_app
from tuneforge.serve.catalog import Catalog
from tuneforge.serve.keys import KeyStore
from tuneforge.ui import mount_ui

HTMX = {"HX-Request": "true"}


@pytest.fixture
def ui(tiny_model_dir):
    """The server app with the web app, the tiny base model served, keys for alice and bob; `as_(name)` logs in."""
    keys = KeyStore()
    secrets = {name: keys.create(name)[0] for name in ("alice", "bob")}
    catalog = Catalog.load([str(tiny_model_dir)])
    service = JobsService(catalog, max_file_bytes=1_000_000)
    traffic = TrafficLog()
    app = create_app(catalog, keys, traffic, fine_tuning=service)
    mount_ui(app)
    with TestClient(app) as client:
        def as_(name):
            client.cookies.clear()
            assert client.post("/ui/login", data={"key": secrets[name]}, follow_redirects=False).status_code == 303
            return client

        client.as_, client.traffic, client.secrets = as_, traffic, secrets
        yield client
    traffic.close()
    service.store.close()
    catalog.close()


def _full_eval(path, tuned, baseline, n=20, data="/data/test.jsonl"):
    """conftest.write_eval plus what compare.run_eval also writes: answers, intervals, the recommendation."""
    write_eval(path, tuned, baseline, data, n)
    report = json.loads(path.read_text())
    for name, share in (("fine-tuned", tuned), ("base zero-shot", baseline)):
        report["systems"][name]["ci"] = {"accuracy": [share - 0.2, min(1.0, share + 0.05)]}
        report["systems"][name]["ci_method"] = {"accuracy": "Wilson score"}
    for i, ex in enumerate(report["examples"]):
        ex["reference"] = "x"
        ex["predictions"] = {name: "x" if ex["scores"][name]["correct"] else "y" for name in ex["scores"]}
    report["recommendation"] = "Recommendation: use fine-tuned."
    report["systems"]["fine-tuned"]["calibration"] = {"ece": 0.031, "mean_confidence": 0.88, "accuracy": tuned,
                                                      "bins": 10, "n": n}
    path.write_text(json.dumps(report))
    return path


def test_compare_shows_every_system_with_intervals_the_recommendation_and_worst_errors(ui, tiny_variants,
                                                                                        tmp_path, tiny_model_dir):
    run = shutil.copytree(tiny_variants["alpha"], tmp_path / "run")
    register_variant(run, "ft-abc", _full_eval(tmp_path / "eval.json", tuned=0.9, baseline=0.3), owner="alice")
    client = ui.as_("alice")
    page = client.get("/ui/compare")
    assert page.status_code == 200
    html = page.text
    assert '<option value="ft-abc:1" selected>' in html  # the newest version is shown without choosing
    assert "Recommendation: use fine-tuned." in html
    rows = dict(re.findall(r'<th scope="row">([^<]+)</th><td>[^<]*</td>\s*<td>([^<]+)</td>', html))
    assert rows == {"fine-tuned": "90.0% (95% CI 70.0–95.0%)", "base zero-shot": "30.0% (95% CI 10.0–35.0%)"}
    # The calibration error of the systems that state probabilities, on the same rows; the others say they don't.
    ece = dict(re.findall(r'<th scope="row">([^<]+)</th>(?:\s*<td>[^<]*</td>){3}\s*<td>([^<]+)</td>', html))
    assert ece == {"fine-tuned": "3.1%", "base zero-shot": "no probabilities"} and "Calibration error" in html
    worst = html[html.index('id="worst-errors"'):html.index("</table>", html.index('id="worst-errors"'))]
    assert worst.count("<tr>") == 1 + 2 and "line 18" in worst and "line 19" in worst  # header + the 2 errors
    assert "line 17" not in worst

    # Try it live: the same input to the served model through the chat completions API.
    served = tiny_model_dir.name
    assert f'value="{served}" checked' in html
    answer = client.post("/ui/compare/try", data={"input": "dell laptop", "models": [served]}, headers=HTMX)
    assert answer.status_code == 200 and f'<th scope="row">{served}</th>' in answer.text and " ms</td>" in answer.text

    # Another key sees no variant, and naming this one shows the API's refusal, not its numbers.
    bob = ui.as_("bob")
    assert "No variant is registered for this key yet" in bob.get("/ui/compare").text
    refused = bob.get("/ui/compare?model=ft-abc:1")
    assert refused.status_code == 404 and "90.0%" not in refused.text and "does not exist" in refused.text


def test_compare_starts_an_evaluation_and_says_when_there_is_no_held_out_data(ui, tiny_variants, tmp_path):
    run = shutil.copytree(tiny_variants["alpha"], tmp_path / "run")
    register_variant(run, "ft-new", owner="alice")
    client = ui.as_("alice")
    assert "Not evaluated yet." in client.get("/ui/compare?model=ft-new:1").text
    r = client.post("/ui/compare/evaluate", data={"model": "ft-new:1"}, headers=HTMX)
    assert 'role="alert"' in r.text and "held-out" in r.text  # the API's 400, in words, in place

    # With a held-out file uploaded by this key: "Evaluate" starts it, the section polls, then shows the result.
    held = write_jsonl(tmp_path / "held.jsonl", [chat_row(t + " ltd", lab) for lab, ts in _LINES.items()
                                                 for t in ts[:2]])
    with open(held, "rb") as f:
        file_id = client.post("/v1/files", files={"file": ("held.jsonl", f)}, data={"purpose": "fine-tune"},
                              headers={"Authorization": f"Bearer {ui.secrets['alice']}"}).json()["id"]
    assert f'<option value="{file_id}">held.jsonl' in client.get("/ui/compare?model=ft-new:1").text
    started = client.post("/ui/compare/evaluate", data={"model": "ft-new:1", "eval_file": file_id}, headers=HTMX)
    assert "Evaluating…" in started.text and 'hx-trigger="every 2s"' in started.text
    assert client.app.state.tasks.wait("eval:ft-new:1", timeout=300).status == "succeeded"
    done = client.get("/ui/compare/evaluation?model=ft-new:1").text
    assert 'id="recommendation"' in done and "6 held-out classification examples" in done
    assert "hx-trigger" not in done  # finished: no more polling


def test_deploy_promotes_through_the_gate_shows_its_reason_history_and_snippets_and_rolls_back(ui, tiny_variants,
                                                                                              tmp_path):
    run = shutil.copytree(tiny_variants["alpha"], tmp_path / "run")
    register_variant(run, "ft-abc", _full_eval(tmp_path / "good.json", tuned=0.9, baseline=0.3), owner="alice")
    register_variant(run, "ft-abc", _full_eval(tmp_path / "worse.json", tuned=0.35, baseline=0.3))
    client = ui.as_("alice")
    html = client.get("/ui/deploy").text
    assert "Nothing in production yet." in html
    assert "Promote ft-abc:1 to production" in html and "Promote ft-abc:2 to production" in html
    assert "accuracy 90.0%" in html and "accuracy 35.0%" in html
    shown = unescape(html)  # snippets are shown as text: quotes are escaped in the HTML
    assert 'model="ft-abc"' in shown and 'base_url="http://testserver/v1"' in shown  # the name follows promotions
    assert "tuneforge models export ft-abc@production --format gguf" in html and "ollama create ft-abc" in html

    refused = client.post("/ui/deploy/promote", data={"ref": "ft-abc:2"}, headers=HTMX).text
    assert 'role="alert"' in refused  # the gate's reason, with the systems compared and not the server's paths
    assert "Not promoted: ft-abc:2 not promoted: FAIL fine-tuned vs base zero-shot: accuracy 0.35 vs 0.3" in refused
    done = client.post("/ui/deploy/promote", data={"ref": "ft-abc:1"}, headers=HTMX).text
    assert "ft-abc:1 is now in production. Gate: PASS fine-tuned vs base zero-shot: accuracy 0.9 vs 0.3" in done and "In production: <strong>ft-abc:1</strong>" in done
    assert "candidate → production — promoted (PASS" in done  # the stage history, with the gate's reason
    assert "Roll back ft-abc" not in done  # nothing earlier to roll back to

    # Evaluated on other data than production: the gate compares it with the best prompted baseline only.
    register_variant(run, "ft-abc", _full_eval(tmp_path / "better.json", tuned=1.0, baseline=0.3, data="/data/new.jsonl"))
    assert "ft-abc:3 is now in production" in client.post("/ui/deploy/promote", data={"ref": "ft-abc:3"}).text
    back = client.post("/ui/deploy/rollback", data={"name": "ft-abc"}, headers=HTMX).text
    assert "ft-abc:1 is back in production; ft-abc:3 is archived" in back
    assert "production → archived — rolled back to ft-abc:1" in back
    # Gate settings: without the significance test version 2 beats the prompted baseline (0.35 vs 0.3), but the
    # gate also compares it with production on the same examples, and there it loses.
    against = unescape(client.post("/ui/deploy/promote", data={"ref": "ft-abc:2", "confidence": "0"},
                                   headers=HTMX).text)
    assert "Not promoted: ft-abc:2 not promoted: FAIL" in against and "accuracy 0.35 vs 0.9" in against
    assert "accuracy 0.35 vs 0.3 " not in against  # the passed comparison is not reported as a failure

    bob = ui.as_("bob")
    assert "ft-abc" not in bob.get("/ui/deploy").text
    assert bob.post("/ui/deploy/promote", data={"ref": "ft-abc:2"}).status_code == 404


def _deployed_with_traffic(ui, tiny_variants, tmp_path) -> None:
    data = write_jsonl(tmp_path / "train.jsonl", [chat_row(t, lab) for lab, ts in _LINES.items() for t in ts])
    run = shutil.copytree(tiny_variants["alpha"], tmp_path / "run")
    record = json.loads((run / "run.json").read_text())
    record["data"]["path"] = str(data)
    (run / "run.json").write_text(json.dumps(record))
    register_variant(run, "ft-mon", owner="alice")
    labels = sorted(_LINES)
    for i in range(40):
        confidence = 0.3 if i == 5 else 0.9
        text, answer = _LINES[labels[i % 3]][i % 5], "banana" if i == 7 else "software"
        ui.traffic.record(request_id=f"chatcmpl-{i}", endpoint="chat.completion", model="ft-mon", variant="ft-mon:1",
                          status=200, latency_ms=10.0 + i,
                          request={"model": "ft-mon", "messages": [{"role": "user", "content": text}]},
                          response={"choices": [{"index": 0, "message": {"role": "assistant", "content": answer}}]},
                          label_probs={"software": confidence}, confidence=confidence)
    ui.traffic.flush()


def test_review_queue_is_ordered_explained_and_corrections_go_through_the_feedback_api(ui, tiny_variants,
                                                                                       tmp_path):
    _deployed_with_traffic(ui, tiny_variants, tmp_path)
    client = ui.as_("alice")
    html = client.get("/ui/review?variant=ft-mon").text
    items = re.findall(r'aria-label="(Item \d+ of \d+)"', html)
    assert items[0] == "Item 1 of 20" and len(items) == 20
    reasons = re.findall(r'<p class="reason"><strong>([^<]+)</strong>', html)
    assert reasons[0] == "Outside the label set or not valid" and reasons[1] == "Low confidence"
    first = html[html.index('aria-label="Item 1 of 20"'):html.index('aria-label="Item 2 of 20"')]
    assert "chatcmpl-7" in first and "banana" in first and "confidence 90.0%" in first
    second = html[html.index('aria-label="Item 2 of 20"'):html.index('aria-label="Item 3 of 20"')]
    assert "chatcmpl-5" in second and "confidence 30.0%" in second
    assert '>1 hardware</button>' in first and '>2 software</button>' in first and '>3 travel</button>' in first

    saved = client.post("/ui/review/feedback", headers=HTMX, data={
        "request_id": "chatcmpl-7", "correct_output": "hardware", "answer": "banana", "position": "1"}).text
    assert 'role="status"' in saved and "corrected to “hardware”" in saved
    accepted = client.post("/ui/review/feedback", headers=HTMX, data={
        "request_id": "chatcmpl-5", "correct_output": "software", "answer": "software", "position": "2"}).text
    assert "accepted “software”" in accepted
    from tuneforge.monitor.feedback import FeedbackStore

    store = FeedbackStore()
    stored = {f.request_id: f.correct_output for f in store.list("ft-mon:1")}
    store.close()
    assert stored == {"chatcmpl-7": "hardware", "chatcmpl-5": "software"}  # what `tuneforge review` would store
    after = client.get("/ui/review?variant=ft-mon").text
    assert "chatcmpl-7" not in after and "chatcmpl-5" not in after  # reviewed items leave the queue

    bob = ui.as_("bob")
    assert bob.get("/ui/review?variant=ft-mon").status_code == 404
    assert bob.post("/ui/review/feedback", data={"request_id": "chatcmpl-1", "correct_output": "x"}).status_code == 404


def test_monitor_shows_the_latest_window_series_alerts_and_the_retrain_status(ui, tiny_variants, tmp_path):
    _deployed_with_traffic(ui, tiny_variants, tmp_path)
    client = ui.as_("alice")
    for i in range(0, 40, 4):  # reviewers: every fourth answer corrected to its true label
        client.post("/ui/review/feedback", data={"request_id": f"chatcmpl-{i}",
                                                 "correct_output": sorted(_LINES)[i % 3]})
    html = client.get("/ui/monitor?variant=ft-mon&window=20").text
    assert "40 requests logged for ft-mon (now ft-mon:1), 10 corrected by reviewers." in html
    latest = html[html.index('id="latest"'):html.index("</dl>", html.index('id="latest"'))]
    assert "<dd>20</dd>" in latest and "<dd>40 ms / 48 ms</dd>" in latest  # 30..49 ms: p50 39.5, p95 48.05
    series = json.loads(re.search(r'id="monitor-series">(.*?)</script>', html, re.S).group(1))["series"]
    assert series["requests"] == [20, 20] and series["reviewed"] == [5, 5]
    table = html[html.index('id="window-numbers"'):html.index("</table>", html.index('id="window-numbers"'))]
    assert table.count('<th scope="row">') == 2
    # Every answer is "software" while traffic spreads over three labels: the label drift alert fires, but too
    # few corrections wait for a retrain.
    alerts = html[html.index('id="alerts"'):html.index("</ul>", html.index('id="alerts"'))]
    assert alerts.count("<li") == 1 and "label distribution drift: Jensen-Shannon distance" in alerts
    assert "Retrain due: no — alert, but only 10 of 30 corrections collected" in html
    assert "No retrain has run yet." in html
    # The fresh evidence the gate would read, against the policy's minimum, and what "Retrain now" risks below it.
    owner = {"Authorization": f"Bearer {ui.secrets['alice']}"}
    waiting = client.get("/v1/monitor/ft-mon", headers=owner, params={"window": 20}).json()["retrain"]
    fresh = html[html.index('id="fresh-evidence"'):html.index("</p>", html.index('id="fresh-evidence"'))]
    assert f"{waiting['fresh_inputs_waiting']} distinct fresh inputs held out for the gate" in fresh
    assert "the policy waits for 77 (min_fresh_inputs)" in fresh
    assert "<dt>Fresh inputs for the gate</dt><dd>77 (30.0% of reviewed inputs held out)</dd>" in html
    assert 'id="retrain-now-warning"' in html and "with fewer than 77 fresh inputs" in html

    started = client.post("/ui/monitor/retrain", data={"variant": "ft-mon"}, headers=HTMX).text
    assert "Retraining…" in started or "The retrain failed" in started
    client.app.state.tasks.wait("retrain:ft-mon")
    status = client.get("/ui/monitor/retrain?variant=ft-mon").text
    assert 'role="alert"' in status and "The retrain failed:" in status and "production" in status

    bob = ui.as_("bob")
    assert bob.get("/ui/monitor?variant=ft-mon").status_code == 404
    assert "ft-mon" not in bob.get("/ui/monitor").text


def test_the_owner_changes_min_corrections_on_the_monitor_page_through_the_policy_api(ui, tiny_variants, tmp_path):
    """The policy shows on the page; "Save policy" PATCHes /v1/monitor/NAME/policy, which writes the name's
    policy.yaml keeping its other keys; the retrain verdict follows; another key can neither read nor change it."""
    _deployed_with_traffic(ui, tiny_variants, tmp_path)
    path = policy_path("ft-mon")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("window: 20\n")  # a key the owner set by file stays
    client = ui.as_("alice")
    html = client.get("/ui/monitor?variant=ft-mon").text
    assert "<dt>Minimum corrections</dt><dd>30</dd>" in html and 'name="min_corrections"' in html
    saved = client.post("/ui/monitor/policy", data={"variant": "ft-mon", "min_corrections": "3"},
                        follow_redirects=False)
    assert saved.status_code == 303, saved.text
    html = client.get(saved.headers["location"]).text
    assert "<dt>Minimum corrections</dt><dd>3</dd>" in html and 'role="alert"' not in html
    assert "the policy needs 3." in html
    assert yaml.safe_load(path.read_text()) == {"window": 20, "min_corrections": 3}
    refused = client.post("/ui/monitor/policy", data={"variant": "ft-mon", "min_corrections": "0"})
    assert 'role="alert"' in refused.text and "min_corrections" in refused.text
    assert yaml.safe_load(path.read_text())["min_corrections"] == 3  # a refused value never reaches the file

    headers = {"Authorization": f"Bearer {ui.secrets['bob']}"}
    assert client.get("/v1/monitor/ft-mon/policy", headers=headers).status_code == 404
    assert client.patch("/v1/monitor/ft-mon/policy", headers=headers, json={"min_corrections": 1}).status_code == 404
    owner = {"Authorization": f"Bearer {ui.secrets['alice']}"}
    assert client.get("/v1/monitor/ft-mon/policy", headers=owner).json()["min_corrections"] == 3


def test_the_pages_work_on_a_server_without_the_fine_tuning_api(tiny_variants, tmp_path):
    """`serve --no-fine-tuning-api`: no files to pick a held-out set from, everything else as usual."""
    keys = KeyStore()
    key = keys.create("alice")[0]
    traffic = TrafficLog()
    app = create_app(Catalog([], []), keys, traffic)
    mount_ui(app)
    register_variant(shutil.copytree(tiny_variants["alpha"], tmp_path / "run"), "ft-abc",
              _full_eval(tmp_path / "eval.json", tuned=0.9, baseline=0.3), owner="alice")
    with TestClient(app) as client:
        client.post("/ui/login", data={"key": key})
        for url in ("/ui/compare", "/ui/deploy", "/ui/review", "/ui/monitor"):
            page = client.get(url)
            assert page.status_code == 200 and "ft-abc" in page.text, url
    traffic.close()
