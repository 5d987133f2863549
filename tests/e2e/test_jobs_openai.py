"""OpenAI's fine-tuning API on a real `tuneforge serve` process, driven by the official openai client with only
base_url and api_key changed: upload, create, follow events to success, checkpoints, chat with the ft: model;
owners isolated; an invalid file fails the job with OpenAI's error code and the line; kill -9 of the server
mid-job resumes to the same weights as an uninterrupted job.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import openai
import pytest
from conftest import _LINES, chat_row, free_port, run_cli, wait_until_healthy

TUNE = {"lora_r": 4, "precision": "fp32", "max_seq_len": 128}


class Server:
    """`tuneforge serve` on a free port; `kill()` is kill -9, `start()` again is a restart on the same home."""

    def __init__(self, home: Path, model_dir: Path, *extra: str):
        self.home, self.model_dir, self.extra = home, model_dir, extra
        self.env = {**os.environ, "TUNEFORGE_HOME": str(home), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None

    def start(self) -> "Server":
        log = open(self.home / "server.log", "a")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tuneforge.cli.main", "serve", "--model", str(self.model_dir), "--port",
             str(self.port), "--max-running-jobs", "2", *self.extra], env=self.env, stdout=log,
            stderr=subprocess.STDOUT)
        wait_until_healthy(self.proc, self.url, self.log)
        return self

    def log(self) -> str:
        return (self.home / "server.log").read_text()[-5000:]

    def client(self, key: str) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.url + "/v1", api_key=key, max_retries=0, timeout=60)

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def _training_jsonl(repeat: int = 1) -> bytes:
    rows = [chat_row(t, label) for label, texts in _LINES.items() for t in texts] * repeat
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def _wait(client, job_id: str, timeout: float = 300):
    deadline = time.time() + timeout
    while True:
        job = client.fine_tuning.jobs.retrieve(job_id)
        if job.status in ("succeeded", "failed", "cancelled"):
            return job
        assert time.time() < deadline, f"job still {job.status} after {timeout}s"
        time.sleep(0.3)


@pytest.fixture(scope="module")
def server(tiny_model_dir, tmp_path_factory):
    home = tmp_path_factory.mktemp("jobs-home")
    srv = Server(home, tiny_model_dir)
    srv.key_a = run_cli(srv.env, "keys", "create", "team-a").strip()
    srv.key_b = run_cli(srv.env, "keys", "create", "team-b").strip()
    srv.key_admin = run_cli(srv.env, "keys", "create", "ops", "--admin").strip()
    srv.start()
    yield srv
    srv.stop()


def test_upload_train_follow_events_checkpoints_and_chat(server, tiny_model_dir):
    client = server.client(server.key_a)
    base = Path(tiny_model_dir).name
    uploaded = client.files.create(file=("labels.jsonl", io.BytesIO(_training_jsonl())), purpose="fine-tune")
    assert uploaded.bytes == len(_training_jsonl()) and uploaded.purpose == "fine-tune"
    assert client.files.content(uploaded.id).read() == _training_jsonl()
    assert uploaded.id in [f.id for f in client.files.list(purpose="fine-tune")]

    held_out = client.files.create(file=("held_out.jsonl", b"".join(_training_jsonl().splitlines(True)[::3])),
                                   purpose="fine-tune")
    job = client.fine_tuning.jobs.create(
        model=base, training_file=uploaded.id, validation_file=held_out.id, suffix="labels", seed=3,
        metadata={"team": "a"},
        method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 3, "batch_size": 4,
                                                                           "learning_rate_multiplier": 2}}},
        extra_body={"tuneforge": TUNE})
    assert job.status == "validating_files" and job.hyperparameters.n_epochs == 3

    # Follow the events as a client does, until the job ends.
    seen = {}
    deadline = time.time() + 300
    while True:
        for event in client.fine_tuning.jobs.list_events(job.id, limit=100).data:
            seen[event.id] = event
        job = client.fine_tuning.jobs.retrieve(job.id)
        if job.status in ("succeeded", "failed", "cancelled"):
            break
        assert time.time() < deadline
        time.sleep(0.3)
    for event in client.fine_tuning.jobs.list_events(job.id, limit=1000).data:
        seen[event.id] = event
    assert job.status == "succeeded", (job.error, server.log())
    assert job.fine_tuned_model == f"ft:{base}:team-a:labels:{job.id.removeprefix('ftjob-')[:8]}"
    assert job.trained_tokens > 0 and job.finished_at >= job.created_at
    assert job.hyperparameters.batch_size == 4 and job.hyperparameters.learning_rate_multiplier == 2
    messages = [e.message for e in seen.values()]
    assert "Files validated, moving job to queued state" in messages
    assert "The job has successfully completed" in messages
    steps = sorted(e.data["step"] for e in seen.values() if e.type == "metrics" and "train_loss" in e.data
                   and "total_steps" in e.data)
    assert steps == list(range(1, 13))  # 15 examples / batch 4 = 4 steps x 3 epochs, each step once
    accuracies = [e.data["train_mean_token_accuracy"] for e in seen.values() if "total_steps" in (e.data or {})]
    assert len(accuracies) == 12 and all(0 <= a <= 1 for a in accuracies)

    # Pagination by cursor gives the same events, newest first.
    paged = list(client.fine_tuning.jobs.list_events(job.id, limit=5))
    assert [e.id for e in paged] == [e.id for e in client.fine_tuning.jobs.list_events(job.id, limit=1000).data]

    checkpoints = client.fine_tuning.jobs.checkpoints.list(job.id).data
    assert [c.step_number for c in checkpoints] == [12, 8, 4]  # one per epoch, newest first
    assert checkpoints[0].metrics.train_loss > 0 and checkpoints[0].metrics.full_valid_loss > 0
    epoch_events = [e.data for e in seen.values() if e.type == "metrics" and "full_valid_loss" in e.data]
    assert sorted(d["step"] for d in epoch_events) == [4, 8, 12]  # the whole validation file, each epoch
    assert checkpoints[0].fine_tuned_model_checkpoint.startswith(job.fine_tuned_model)

    csv_text = client.files.content(job.result_files[0]).read().decode()
    assert csv_text.splitlines()[0] == "step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy"
    assert len(csv_text.splitlines()) == 13
    assert [row.split(",")[3] != "" for row in csv_text.splitlines()[1:]] == [False, False, False, True] * 3
    assert all(row.split(",")[2] != "" for row in csv_text.splitlines()[1:])  # train_accuracy on every step

    # Served at once, without a restart: listed, and it answers chat completions.
    assert job.fine_tuned_model in [m.id for m in client.models.list().data]
    answer = client.chat.completions.create(model=job.fine_tuned_model, max_tokens=5, temperature=0,
                                            messages=[{"role": "user", "content": "dell laptop"}])
    assert answer.model == job.fine_tuned_model and answer.choices[0].message.content is not None
    assert [j.id for j in client.fine_tuning.jobs.list(metadata={"team": "a"})] == [job.id]
    assert list(client.fine_tuning.jobs.list(metadata={"team": "zzz"})) == []

    # Owners are isolated: team-b gets 404 for everything of team-a's and sees none of it listed; admin sees all.
    other = server.client(server.key_b)
    for call in (lambda: other.fine_tuning.jobs.retrieve(job.id), lambda: other.files.retrieve(uploaded.id),
                 lambda: other.files.content(uploaded.id), lambda: other.fine_tuning.jobs.list_events(job.id),
                 lambda: other.fine_tuning.jobs.cancel(job.id), lambda: other.models.delete(job.fine_tuned_model),
                 lambda: other.chat.completions.create(model=job.fine_tuned_model, max_tokens=2,
                                                       messages=[{"role": "user", "content": "x"}])):
        with pytest.raises(openai.NotFoundError):
            call()
    assert job.id not in [j.id for j in other.fine_tuning.jobs.list()]
    assert uploaded.id not in [f.id for f in other.files.list()]
    assert job.fine_tuned_model not in [m.id for m in other.models.list().data]
    admin = server.client(server.key_admin)
    assert admin.fine_tuning.jobs.retrieve(job.id).id == job.id
    assert job.fine_tuned_model in [m.id for m in admin.models.list().data]

    # Registered with lineage to the job and its files.
    import hashlib

    from tuneforge.registry.store import Registry

    registry = Registry(server.home / "registry.db")
    variant = registry.get(f"ft-{job.id.removeprefix('ftjob-').lower()}:1")
    lineage = json.loads((Path(variant.run_path) / "job.json").read_text())
    assert lineage["job"] == job.id and lineage["fine_tuned_model"] == job.fine_tuned_model
    assert lineage["training_file"] == {"id": uploaded.id, "filename": "labels.jsonl",
                                        "sha256": hashlib.sha256(_training_jsonl()).hexdigest()}

    # Deleting the model stops serving it at once, and archives it in the registry.
    assert client.models.delete(job.fine_tuned_model).deleted
    assert registry.get(variant.ref).stage == "archived"
    registry.close()
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model=job.fine_tuned_model, max_tokens=2,
                                       messages=[{"role": "user", "content": "x"}])
    assert client.files.delete(uploaded.id).deleted
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(uploaded.id)


def test_a_sentence_encoder_job_learns_the_labels_and_answers_with_one_of_them(server, tiny_encoder_dir):
    """A job may name a sentence encoder (the base `tuneforge train` picks for labels): it has no chat template, so
    the file check counts no chat tokens, and it can only learn a head, so the kind is left to the data."""
    client = server.client(server.key_a)
    labels = client.files.create(file=("labels.jsonl", io.BytesIO(_training_jsonl(2))), purpose="fine-tune")
    job = _wait(client, client.fine_tuning.jobs.create(model=str(tiny_encoder_dir), training_file=labels.id).id)
    assert job.status == "succeeded", (job.error, server.log())
    assert job.fine_tuned_model.startswith(f"ft:{Path(tiny_encoder_dir).name}:team-a::")  # the folder, not its path
    events = [e.message for e in client.fine_tuning.jobs.list_events(job.id, limit=1000).data]
    assert any(m.startswith("auto: variant_type=classification") for m in events), events
    answer = client.chat.completions.create(model=job.fine_tuned_model, logprobs=True, top_logprobs=3,
                                            messages=[{"role": "user", "content": "dell laptop"}])
    assert answer.choices[0].message.content in _LINES
    assert {t.token for t in answer.choices[0].logprobs.content[0].top_logprobs} == set(_LINES)

    # Free text cannot train a head: the job fails with the reason, naming the training file.
    free = "".join(json.dumps(chat_row(f"question {i}", f"A long reply number {i} that never repeats.")) + "\n"
                   for i in range(20)).encode()
    text = client.files.create(file=("replies.jsonl", io.BytesIO(free)), purpose="fine-tune")
    job = _wait(client, client.fine_tuning.jobs.create(model=str(tiny_encoder_dir), training_file=text.id).id)
    assert job.status == "failed" and job.error.code == "invalid_training_file", job.error
    assert "sentence encoder" in job.error.message and "not labels" in job.error.message, job.error.message


def test_model_auto_gives_labels_the_encoder_that_train_picks(server, tiny_model_dir):
    """`model: "auto"`, the web app's default base: labels train the sentence encoder `tuneforge train` picks with no
    --base (the server's first base when no encoder package is installed), and the job then shows that base."""
    from tuneforge.models.packaged_encoders import preferred_packaged_encoder

    client = server.client(server.key_a)
    labels = client.files.create(file=("labels.jsonl", io.BytesIO(_training_jsonl(2))), purpose="fine-tune")
    job = _wait(client, client.fine_tuning.jobs.create(model="auto", training_file=labels.id).id, timeout=600)
    assert job.status == "succeeded", (job.error, server.log())
    expected = preferred_packaged_encoder() or Path(tiny_model_dir).name
    assert job.model == expected and job.fine_tuned_model.startswith(f"ft:{expected}:team-a::")
    events = [e.message for e in client.fine_tuning.jobs.list_events(job.id, limit=1000).data]
    assert any(m.startswith(f"auto: base={expected}") for m in events), events
    answer = client.chat.completions.create(model=job.fine_tuned_model,
                                            messages=[{"role": "user", "content": "klm flight amsterdam"}])
    assert answer.choices[0].message.content in _LINES


def test_invalid_training_file_fails_the_job_naming_the_line(server, tiny_model_dir):
    client = server.client(server.key_b)
    lines = _training_jsonl().decode().splitlines()
    lines[6] = '{"messages": [{"role": "user", "content": "no answer here"}]}'
    bad = client.files.create(file=("bad.jsonl", ("\n".join(lines) + "\n").encode()), purpose="fine-tune")
    job = client.fine_tuning.jobs.create(model=Path(tiny_model_dir).name, training_file=bad.id)
    job = _wait(client, job.id)
    assert job.status == "failed"
    assert job.error.code == "invalid_training_file" and job.error.param == "training_file"
    assert "line 7" in job.error.message, job.error.message

    few = client.files.create(file=("few.jsonl", ("\n".join(_training_jsonl().decode().splitlines()[:4]) + "\n")
                                    .encode()), purpose="fine-tune")
    job = _wait(client, client.fine_tuning.jobs.create(model=Path(tiny_model_dir).name, training_file=few.id).id)
    assert job.status == "failed" and job.error.code == "invalid_n_examples", job.error


def test_bad_requests_get_openai_errors(server, tiny_model_dir):
    client = server.client(server.key_a)
    up = client.files.create(file=("d.jsonl", _training_jsonl()), purpose="fine-tune")
    newest_first = [f.id for f in client.files.list()]
    assert newest_first[0] == up.id
    assert [f.id for f in client.files.list(order="asc")] == newest_first[::-1]
    assert [f.id for f in client.files.list(limit=1)] == newest_first  # the client follows the cursor pages
    with pytest.raises(openai.BadRequestError) as err:
        client.files.create(file=("d.jsonl", b"{}"), purpose="assistants")
    assert err.value.body["param"] == "purpose"
    with pytest.raises(openai.BadRequestError) as err:
        client.fine_tuning.jobs.create(model=Path(tiny_model_dir).name, training_file=up.id,
                                       method={"type": "reinforcement"})
    assert err.value.body["param"] == "method.type"
    with pytest.raises(openai.BadRequestError) as err:
        client.fine_tuning.jobs.create(model=Path(tiny_model_dir).name, training_file="file-nope")
    assert err.value.body["param"] == "training_file"
    with pytest.raises(openai.BadRequestError):
        client.fine_tuning.jobs.create(model=Path(tiny_model_dir).name, training_file=up.id,
                                       extra_body={"tuneforge": {"lora_rank": 4}})
    # A training process that fails fails its job only: the message is the trainer's, the server keeps serving.
    broken = client.fine_tuning.jobs.create(model=Path(tiny_model_dir).name, training_file=up.id,
                                            extra_body={"tuneforge": {**TUNE, "lora_targets": "no_such_layer"}})
    broken = _wait(client, broken.id)
    assert broken.status == "failed" and broken.error.code == "training_failed", broken.error
    assert "no_such_layer" in broken.error.message
    assert httpx.get(server.url + "/health").status_code == 200
    unknown = _wait(client, client.fine_tuning.jobs.create(model="no-such-model", training_file=up.id).id)
    assert unknown.status == "failed" and unknown.error.code == "model_not_available", unknown.error
    with pytest.raises(openai.AuthenticationError):
        server.client("tf-wrong").files.list()


def test_cli_creates_follows_lists_and_cancels(server, tiny_model_dir, tmp_path):
    import yaml

    env = {**server.env, "TUNEFORGE_BASE_URL": server.url + "/v1", "TUNEFORGE_API_KEY": server.key_a}
    data = tmp_path / "train.jsonl"
    data.write_bytes(_training_jsonl())
    options = tmp_path / "options.yaml"
    options.write_text(yaml.safe_dump(TUNE))
    base = Path(tiny_model_dir).name
    out = run_cli(env, "jobs", "create", str(data), "--model", base, "--epochs", "1", "--batch-size", "8",
               "--suffix", "cli", "--config", str(options), "--follow")
    job_id = out.splitlines()[0]
    assert out.strip().endswith(f"fine-tuned model: ft:{base}:team-a:cli:{job_id.removeprefix('ftjob-')[:8]}")
    assert "The job has successfully completed" in out
    assert job_id in run_cli(env, "jobs", "list")
    assert '"status": "succeeded"' in run_cli(env, "jobs", "get", job_id)
    assert "Step 2/2: training loss=" in run_cli(env, "jobs", "events", job_id)

    # Cancel a long job while it trains: the process group is gone and the job says cancelled.
    long_job = run_cli(env, "jobs", "create", str(data), "--model", base, "--epochs", "100", "--batch-size", "1",
                    "--config", str(options)).splitlines()[0]
    client = server.client(server.key_a)
    deadline = time.time() + 120
    while client.fine_tuning.jobs.retrieve(long_job).status != "running":
        assert time.time() < deadline
        time.sleep(0.2)
    # Pause stops the process; resume queues the job and it trains again.
    assert client.fine_tuning.jobs.pause(long_job).status == "paused"
    assert subprocess.run(["pgrep", "-f", f"{long_job}/config.yaml"], capture_output=True).stdout.strip() == b""
    assert client.fine_tuning.jobs.resume(long_job).status == "queued"
    while client.fine_tuning.jobs.retrieve(long_job).status != "running":
        assert time.time() < deadline + 120
        time.sleep(0.2)
    with pytest.raises(openai.BadRequestError):
        client.fine_tuning.jobs.resume(long_job)  # only a paused job resumes
    assert f"{long_job}\tcancelled" in run_cli(env, "jobs", "cancel", long_job)
    time.sleep(0.3)
    left = subprocess.run(["pgrep", "-f", f"{long_job}/config.yaml"], capture_output=True, text=True).stdout
    assert left.strip() == "", "the cancelled job's training process still runs"
    assert client.fine_tuning.jobs.retrieve(long_job).status == "cancelled"
    assert not (server.home / "jobs" / long_job / "run").exists()


def test_kill_9_of_the_server_mid_job_resumes_to_the_same_weights(tiny_model_dir, tmp_path):
    import torch
    from safetensors.torch import load_file

    srv = Server(tmp_path, tiny_model_dir)
    key = run_cli(srv.env, "keys", "create", "team-a").strip()
    srv.start()
    try:
        client = srv.client(key)
        up = client.files.create(file=("labels.jsonl", _training_jsonl()), purpose="fine-tune")
        settings = dict(model=Path(tiny_model_dir).name, training_file=up.id, seed=11,
                        hyperparameters={"n_epochs": 20, "batch_size": 2},  # the deprecated top-level form
                        extra_body={"tuneforge": {**TUNE, "lora_dropout": 0.1}})  # dropout: the RNG state matters
        killed = client.fine_tuning.jobs.create(**settings)
        run = tmp_path / "jobs" / killed.id / "run"
        deadline = time.time() + 180
        while not list((run / "checkpoints").glob("step-*")):
            assert time.time() < deadline, f"no checkpoint within 180 s:\n{srv.log()}"
            time.sleep(0.01)
        srv.kill()
        time.sleep(0.5)  # the training process dies with the server (parent-death signal)
        assert not (run / "run.json").exists(), "the job finished before the kill; the test proves nothing"
        trainers = subprocess.run(["pgrep", "-f", f"{killed.id}/config.yaml"], capture_output=True, text=True)
        assert trainers.stdout.strip() == "", "a training process outlived the killed server"

        srv.start()
        whole = client.fine_tuning.jobs.create(**settings)
        done = _wait(client, killed.id)
        assert done.status == "succeeded", (done.error, srv.log())
        messages = [e.message for e in client.fine_tuning.jobs.list_events(killed.id, limit=1000).data]
        assert any(m.startswith("Fine-tuning job resumed from checkpoint at step ") for m in messages), messages
        assert "resume: step-" in (tmp_path / "jobs" / killed.id / "train.log").read_text()  # the trainer's word
        steps = [e.data["step"] for e in client.fine_tuning.jobs.list_events(killed.id, limit=1000).data
                 if e.type == "metrics" and "total_steps" in e.data]
        assert sorted(steps) == list(range(1, 161))  # every step reported once across the restart
        assert _wait(client, whole.id).status == "succeeded"
        a = load_file(run / "adapter_model.safetensors")
        b = load_file(tmp_path / "jobs" / whole.id / "run" / "adapter_model.safetensors")
        assert a.keys() == b.keys()
        for name in a:
            assert torch.equal(a[name], b[name]), name

        # After another restart the fine-tuned models are served again, to their owner.
        srv.stop()
        srv.start()
        served = [m.id for m in client.models.list().data]
        assert done.fine_tuned_model in served and client.fine_tuning.jobs.retrieve(whole.id).fine_tuned_model in served
        reply = client.chat.completions.create(model=done.fine_tuned_model, max_tokens=3,
                                               messages=[{"role": "user", "content": "dell laptop"}])
        assert reply.model == done.fine_tuned_model
    finally:
        srv.stop()
