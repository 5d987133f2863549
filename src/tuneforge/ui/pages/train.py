"""The *Train* page (/ui/train): start a fine-tuning job with the defaults, follow it live, pause, resume, cancel.

User flow (labels and button texts are stable; the browser tests select by them):
1. Under "Start a fine-tuning job", choose the data in the select labelled "Training data" (saved dataset versions,
   newest first, each with the examples it trains on and those held out, "16 to train, 1 held out"; the Data
   page's "Train on it" link preselects one) and the base in "Base model" (default "Chosen from the data": the job's
   `model` "auto", which gives labels the packaged sentence encoder as `tuneforge train` does and anything else the
   server's first base; or one of the served bases), then press
   "Start training" (a saved version's held-out split is sent as the job's validation file). Nothing else is
   needed: epochs, batch size and learning rate are chosen from the data.
   "Advanced settings" (a collapsed <details>) holds "Epochs", "Batch size", "Learning rate multiplier" (blank =
   auto), "Kind of model" (default "Chosen from the data": a label classifier when every answer is one of a few
   labels, else a text generator, as `tuneforge train` decides), "Seed" (blank = one is drawn and recorded; a
   number repeats a run) and "Model name suffix".
2. The page then shows the job (URL /ui/train?job=<id>) in the section "Job <id>", refreshed every 2 s while it runs:
   "Status", "Step" (with a progress bar labelled "Training progress"), "Tokens/s", "Time left" and the
   "Training loss" chart (uPlot; its text alternative names the last loss), and the recent "Events".
   When the job has succeeded, "Fine-tuned model" names the new model.
3. Buttons, shown when they apply: "Pause" (a running or queued job; it stops at once and keeps its checkpoints),
   "Resume" (a paused job; it goes on from its last checkpoint) and "Cancel job" (any unfinished job).
4. The table "Jobs" lists this key's jobs with their status and fine-tuned model; each id links to its progress
   ("Show <id>"). The shown job's row is refreshed with its progress (out of band), so it never goes stale.
Every call goes through the public API: GET /v1/datasets, /v1/files, /v1/models, POST /v1/fine_tuning/jobs,
GET /v1/fine_tuning/jobs[/{id}[/events]], POST /v1/fine_tuning/jobs/{id}/cancel|pause|resume.
"""

from __future__ import annotations

import time
from urllib.parse import urlencode

import httpx
from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse

from tuneforge.ui import api_client
from tuneforge.ui.api_client import ApiFailure, ok
from tuneforge.ui.render import fragment, page

router = APIRouter(include_in_schema=False)

TERMINAL = ("succeeded", "failed", "cancelled")
ACTIONS = {"pause": "Pause", "resume": "Resume", "cancel": "Cancel job"}
POLL_S = 2


def _human_seconds(s: float) -> str:
    s = max(int(s), 0)
    if s < 90:
        return f"{s} s"
    if s < 5400:
        return f"{round(s / 60)} min"
    return f"{s / 3600:.1f} h"


async def _progress(api: httpx.AsyncClient, job_id: str) -> dict:
    """The job and what its events say about progress: the loss curve, the latest speed, the time left."""
    job = ok(await api.get(f"/v1/fine_tuning/jobs/{job_id}"))
    events = ok(await api.get(f"/v1/fine_tuning/jobs/{job_id}/events", params={"limit": 1000}))["data"]
    steps: dict[int, dict] = {}
    for e in reversed(events):  # oldest first: a step seen again after a resume keeps its latest record
        data = e.get("data") or {}
        if e.get("type") == "metrics" and "train_loss" in data and "total_steps" in data:
            steps[int(data["step"])] = data
    points = [steps[k] for k in sorted(steps)]
    last = points[-1] if points else {}
    total = last.get("total_steps")
    left = None
    if job["status"] == "running" and job.get("estimated_finish"):
        left = _human_seconds(job["estimated_finish"] - time.time())
    return {
        "job": job, "events": events[:8], "terminal": job["status"] in TERMINAL,
        "loss": {"steps": [p["step"] for p in points], "loss": [p["train_loss"] for p in points]},
        "step": last.get("step", 0), "total_steps": total, "tokens_per_s": last.get("tokens_per_s"),
        "time_left": left, "last_loss": last.get("train_loss"),
        "actions": [(name, text) for name, text in ACTIONS.items() if _allowed(name, job["status"])],
        "poll_s": POLL_S,
    }


def _allowed(action: str, status: str) -> bool:
    if action == "pause":
        return status in ("running", "queued")
    if action == "resume":
        return status == "paused"
    return status not in TERMINAL


def _split_sizes(dataset: dict) -> str:
    """What a job started on a saved version trains on: its train part, the rest held out for evaluation."""
    if dataset.get("train_examples") is None:  # saved before versions set a held-out split aside
        return f"{dataset['examples']} examples"
    held = dataset["held_out_examples"]
    return f"{dataset['train_examples']} to train, {held or 'none'} held out"


async def _choices(api: httpx.AsyncClient) -> tuple[list[dict], list[dict]]:
    """(training data, base models) to choose from: saved datasets first, then other JSONL uploads."""
    datasets = ok(await api.get("/v1/datasets"))["data"]
    used = {d["training_file"] for d in datasets}
    files = ok(await api.get("/v1/files", params={"purpose": "fine-tune"}))["data"]
    data = [{"id": d["training_file"], "label": f"{d['id']} ({_split_sizes(d)})"} for d in datasets]
    data += [{"id": f["id"], "label": f"{f['filename']} ({f['id']})"} for f in files
             if f["id"] not in used and f["filename"].endswith(".jsonl")]
    models = [m["id"] for m in ok(await api.get("/v1/models"))["data"]
              if (m.get("tuneforge") or {}).get("kind") == "base"]
    return data, models


@router.get("/ui/train")
async def train_page(request: Request, api: httpx.AsyncClient = Depends(api_client.client)):
    data, models = await _choices(api)
    jobs = ok(await api.get("/v1/fine_tuning/jobs", params={"limit": 50}))["data"]
    job_id = request.query_params.get("job")
    progress = await _progress(api, job_id) if job_id else None
    return page(request, "train.html", "Train", data=data, models=models, jobs=jobs, progress=progress,
                chosen=request.query_params.get("training_file"), error=request.query_params.get("error"))


@router.get("/ui/train/jobs/{job_id}/progress")
async def progress_partial(job_id: str, request: Request, api: httpx.AsyncClient = Depends(api_client.client)):
    return fragment(request, "_train_progress.html", progress=await _progress(api, job_id), oob=True)


def _number(value: str, kind):
    value = (value or "").strip()
    return kind(value) if value else None


VARIANT_TYPES = ("auto", "classification", "generative")


@router.post("/ui/train/start")
async def start(request: Request, api: httpx.AsyncClient = Depends(api_client.client)):
    form = await request.form()
    body: dict = {"model": form.get("model", ""), "training_file": form.get("training_file", "")}
    try:
        hp = {"n_epochs": _number(form.get("n_epochs"), int), "batch_size": _number(form.get("batch_size"), int),
              "learning_rate_multiplier": _number(form.get("learning_rate_multiplier"), float)}
        seed = _number(form.get("seed"), int)
    except ValueError:
        return RedirectResponse("/ui/train?" + urlencode({"error": "Advanced settings: enter whole numbers for "
                                                          "epochs, batch size and seed, a number for the "
                                                          "multiplier."}), status_code=303)
    if seed is not None:
        body["seed"] = seed  # the jobs API checks its range and names the field when it is out of it
    hp = {k: v for k, v in hp.items() if v is not None}
    if hp:
        body["method"] = {"type": "supervised", "supervised": {"hyperparameters": hp}}
    # tuneforge's own no-flag rule, not the jobs API's OpenAI-compatible default (a text generator): the page
    # promises the defaults that win on label data, so it asks for them unless the person chose otherwise.
    variant = form.get("variant_type") or "auto"
    if variant not in VARIANT_TYPES:
        return RedirectResponse("/ui/train?" + urlencode({"error": "Kind of model: choose one of the listed kinds."}),
                                status_code=303)
    body["tuneforge"] = {"variant_type": variant}
    if (form.get("suffix") or "").strip():
        body["suffix"] = form["suffix"].strip()
    # A saved dataset version's held-out split goes with it as the job's validation file: the job's evaluation
    # (Compare's "the run's own held-out data") then uses rows the model never trained on.
    datasets = ok(await api.get("/v1/datasets", params={"limit": 1000}))["data"]
    held_out = next((d["validation_file"] for d in datasets if d["training_file"] == body["training_file"]), None)
    if held_out:
        body["validation_file"] = held_out
    try:
        job = ok(await api.post("/v1/fine_tuning/jobs", json=body))
    except ApiFailure as err:  # shown on the form, where the person can change what they chose
        return RedirectResponse("/ui/train?" + urlencode({"error": err.message}), status_code=303)
    return RedirectResponse(f"/ui/train?job={job['id']}", status_code=303)


@router.post("/ui/train/jobs/{job_id}/{action}")
async def act(job_id: str, action: str, api: httpx.AsyncClient = Depends(api_client.client)):
    if action not in ACTIONS:
        raise ApiFailure(404, f"No action {action!r}; use one of {', '.join(ACTIONS)}")
    try:
        ok(await api.post(f"/v1/fine_tuning/jobs/{job_id}/{action}"))
    except ApiFailure as err:
        if err.status == 404:
            raise
        return RedirectResponse(f"/ui/train?{urlencode({'job': job_id, 'error': err.message})}", status_code=303)
    return RedirectResponse(f"/ui/train?job={job_id}", status_code=303)
