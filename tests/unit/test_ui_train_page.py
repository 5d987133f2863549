"""The Train page at the HTTP level: a saved dataset is offered as training data, "Start training" creates a job
through the jobs API with the defaults, the job's progress fragment follows it (status, step, tokens/s, loss
points from the job's events) while Pause, Resume and Cancel act on it; another key sees none of it."""

from __future__ import annotations

import re
import time

import pytest
from ui_app import PLANTED, invoice_csv, login, ui_client

COLUMNS = {"input_column": "description", "output_column": "category"}
BASE = "tiny-llama0"  # the served id of the tiny model (its folder's name, from conftest's tiny_model_dir)


def _save_dataset(client) -> dict:
    """A dataset version saved from the Data page's API, as the page does."""
    location = client.post("/ui/data/upload", files={"file": ("invoices.csv", invoice_csv(PLANTED), "text/csv")},
                           follow_redirects=False).headers["location"]
    file_id = location.split("=")[1]
    client.post("/ui/data/save", data={"file_id": file_id, **COLUMNS, "drop_duplicates": "1", "name": "invoices"})
    return _api(client, "GET", "/v1/datasets")["data"][0]


def _api(client, method: str, url: str) -> dict:
    return client.request(method, url, headers={"Authorization": f"Bearer {client.key}"}).json()


def _start(client, training_file: str, **advanced) -> str:
    response = client.post("/ui/train/start", data={"training_file": training_file, "model": BASE,
                                                    **advanced}, follow_redirects=False)
    assert response.status_code == 303
    match = re.search(r"job=(ftjob-\w+)", response.headers["location"])
    assert match, response.headers["location"]
    return match.group(1)


def _status(html: str) -> str:
    return re.search(r'data-testid="job-status">([a-z_]+)<', html).group(1)


def _buttons(html: str) -> list[str]:
    return re.findall(r"<button[^>]*>([^<]+)</button>", html)


@pytest.fixture
def ui(tiny_model_dir):
    with ui_client([str(tiny_model_dir)]) as (client, keys, service):
        yield client, keys, service


def _login(client, keys, name: str):
    client.cookies.clear()
    client.key = keys.create(name)[0]
    login(client, client.key)


def test_start_with_defaults_then_cancel_and_isolation(ui):
    client, keys, service = ui
    _login(client, keys, "alice")
    dataset = _save_dataset(client)
    page = client.get(f"/ui/train?training_file={dataset['training_file']}").text
    # Preselected, with what a job on it trains on (not the version's 17 rows) and what it holds out.
    assert dataset["examples"] == 17 and dataset["train_examples"] + dataset["held_out_examples"] == 17
    assert 1 <= dataset["held_out_examples"] < 17
    assert (f'<option value="{dataset["training_file"]}" selected>{dataset["id"]} ({dataset["train_examples"]} to '
            f'train, {dataset["held_out_examples"]} held out)') in page
    assert "<summary>Advanced settings</summary>" in page and "Start training</button>" in page
    assert f"<option>{BASE}</option>" in page
    # The base, too, is chosen from the data unless the person picks one (the jobs API's `model: "auto"`).
    assert '<option value="auto" selected>Chosen from the data</option>' in page

    job_id = _start(client, dataset["training_file"])
    job = _api(client, "GET", f"/v1/fine_tuning/jobs/{job_id}")
    assert job["hyperparameters"] == {"n_epochs": "auto", "batch_size": "auto", "learning_rate_multiplier": "auto"}
    # The page's defaults are tuneforge's: the kind of model is chosen from the data, not the jobs API's text default.
    assert service.store.get_job(job_id)["request"]["body"]["tuneforge"] == {"variant_type": "auto"}
    page = client.get(f"/ui/train?job={job_id}").text
    assert f"Job {job_id}" in page and _status(page) == "validating_files"
    assert "Cancel job" in _buttons(page) and "Resume" not in _buttons(page)
    assert f'hx-get="/ui/train/jobs/{job_id}/progress"' in page  # polls while unfinished
    assert f"Show {job_id}" in page

    # Another key: no job listed, 404 for the job and its actions, nothing of alice's on the page.
    alice = client.key
    _login(client, keys, "bob")
    page = client.get("/ui/train")
    assert job_id not in page.text and "invoices@" not in page.text
    assert client.get(f"/ui/train?job={job_id}").status_code == 404
    assert client.get(f"/ui/train/jobs/{job_id}/progress").status_code == 404
    assert client.post(f"/ui/train/jobs/{job_id}/cancel").status_code == 404
    assert _api(client, "GET", f"/v1/fine_tuning/jobs/{job_id}")["error"]["code"] == "fine_tuning_job_not_found"

    client.cookies.clear()
    client.key = alice
    login(client, alice)
    client.post(f"/ui/train/jobs/{job_id}/cancel")
    page = client.get(f"/ui/train?job={job_id}").text
    assert _status(page) == "cancelled" and "Cancel job" not in _buttons(page) and "hx-trigger" not in page


def test_advanced_settings_reach_the_job_and_bad_ones_are_shown(ui):
    client, keys, _ = ui
    _login(client, keys, "alice")
    dataset = _save_dataset(client)
    job_id = _start(client, dataset["training_file"], n_epochs="3", batch_size="", learning_rate_multiplier="0.5",
                    seed="1234")
    job = _api(client, "GET", f"/v1/fine_tuning/jobs/{job_id}")
    assert job["hyperparameters"] == {"n_epochs": 3, "batch_size": "auto", "learning_rate_multiplier": 0.5}
    assert job["seed"] == 1234
    # The saved version's held-out split goes with it, so the job's evaluation has rows it never trained on.
    assert dataset["validation_file"] and job["validation_file"] == dataset["validation_file"]
    assert dataset["held_out_examples"] >= 1
    assert f"{dataset['train_examples']} / {dataset['held_out_examples']}" in client.get("/ui/data").text
    response = client.post("/ui/train/start", data={"training_file": dataset["training_file"], "model": BASE,
                                                    "n_epochs": "three"})
    assert response.status_code == 200 and "whole numbers" in response.text
    response = client.post("/ui/train/start", data={"training_file": "file-nope", "model": BASE})
    assert 'role="alert"' in response.text and "file-nope" in response.text


def test_live_progress_pause_resume_to_a_fine_tuned_model(tiny_model_dir):
    """The worker really trains (tiny model): the progress fragment shows the loss points and speed from the
    job's events, Pause stops it, Resume finishes it."""
    with ui_client([str(tiny_model_dir)], start_worker=True) as (client, keys, _):
        _login(client, keys, "alice")
        dataset = _save_dataset(client)
        job_id = _start(client, dataset["training_file"])
        status = _wait(client, job_id, ("queued", "running"))
        client.post(f"/ui/train/jobs/{job_id}/pause")
        fragment = client.get(f"/ui/train/jobs/{job_id}/progress").text
        assert _status(fragment) == "paused", status
        assert "Resume" in _buttons(fragment) and "Pause" not in _buttons(fragment)
        client.post(f"/ui/train/jobs/{job_id}/resume")
        _wait(client, job_id, ("succeeded",), timeout=240)
        fragment = client.get(f"/ui/train/jobs/{job_id}/progress").text
        steps = [int(s) for s in re.search(r'data-steps="\[([0-9, ]+)\]"', fragment).group(1).split(",")]
        assert steps == list(range(1, steps[-1] + 1)) and steps[-1] > 1  # each step once, across the pause
        assert re.search(r"<dt>Tokens/s</dt><dd>[0-9,]+</dd>", fragment), re.search(r"Tokens/s.{0,80}", fragment, re.S).group(0)
        assert "Fine-tuned model" in fragment and f"ft:{BASE}:alice" in fragment
        assert "hx-trigger" not in fragment  # finished: the page stops polling


def _wait(client, job_id: str, wanted: tuple[str, ...], timeout: float = 120) -> str:
    deadline = time.time() + timeout
    while True:
        status = _status(client.get(f"/ui/train/jobs/{job_id}/progress").text)
        if status in wanted:
            return status
        assert status not in ("failed", "cancelled", "succeeded") and time.time() < deadline, status
        time.sleep(0.2)


def test_training_data_sizes_for_versions_without_a_held_out_part():
    from tuneforge.ui.pages.train import _split_sizes

    assert _split_sizes({"examples": 6, "train_examples": 6, "held_out_examples": 0}) == "6 to train, none held out"
    # A version saved before versions set a held-out split aside has only its total.
    assert _split_sizes({"examples": 9, "train_examples": None, "held_out_examples": None}) == "9 examples"
