"""The *Compare* page (/ui/compare): is the fine-tuned variant better than the alternatives, and where does it fail?

User flow (labels and button texts are stable; browser tests select by them):
1. "Variant" (a select of every registered version this key may see, newest first chosen) and the button
   "Show evaluation" (a GET form: /ui/compare?model=NAME:VERSION).
2. With no evaluation yet, the section "Evaluation of NAME:N" says "Not evaluated yet." and offers "Held-out
   file" (a select of uploaded files, first option "The run's own held-out data"; a job trained without a
   validation file has none, so pick an uploaded JSONL, or a CSV with input/output columns) and the button
   "Evaluate". While it runs the section says "Evaluating…" and refreshes itself every 2 seconds; a failure shows
   its message (role=alert).
3. Once evaluated (the button "Evaluate again" runs it anew, e.g. after a retrain registered a version whose
   evaluation compared it with production only): "Recommendation" (a paragraph in plain words,
   id="recommendation"), the table "Every system on the same held-out examples" (one row per system: the
   variant, the prompted baselines, the classical TF-IDF/embedding baselines, the production version named
   "production"; each headline metric with its 95% interval), and "Worst errors, side by side" (input, reference
   and every system's answer, each marked "right" or "wrong").
4. "Try it live": type into "Input", tick models under "Models to ask" (checkboxes named by served model id, the
   first two ticked), press "Ask the models": a table "Answers" shows each model's answer and its latency.
"""

from __future__ import annotations

import asyncio
import time

import httpx
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse

from tuneforge.ui import api_client
from tuneforge.ui.api_client import ok
from tuneforge.ui.pages import formatting
from tuneforge.ui.pages.choices import newest_ref, registered, served_models
from tuneforge.ui.render import fragment, is_htmx, page

router = APIRouter(include_in_schema=False)
TRY_MAX_TOKENS = 64


async def _evaluation(api, ref: str | None) -> dict | None:
    return ok(await api.get(f"/v1/evaluations/{ref}")) if ref else None


async def _held_out_files(api) -> list[dict]:
    response = await api.get("/v1/files", params={"purpose": "fine-tune"})
    if response.status_code == 404:  # a server without the files API (--no-fine-tuning-api): nothing to pick
        return []
    return ok(response)["data"]


@router.get("/ui/compare")
async def compare_page(request: Request, model: str | None = None,
                       api: httpx.AsyncClient = Depends(api_client.client)):
    models = await registered(api)
    ref = model or newest_ref(models)
    evaluation, files, served = await asyncio.gather(_evaluation(api, ref), _held_out_files(api), served_models(api))
    ref = evaluation["model"] if evaluation else ref  # a job id or ft: model id, as its registry version
    return page(request, "compare.html", "Compare", models=models, ref=ref, evaluation=evaluation, files=files,
                served=served, fmt=formatting)


@router.get("/ui/compare/evaluation")
async def evaluation_fragment(request: Request, model: str, api: httpx.AsyncClient = Depends(api_client.client)):
    """The evaluation section alone: htmx polls it while an evaluation runs."""
    evaluation, files = await asyncio.gather(_evaluation(api, model), _held_out_files(api))
    return fragment(request, "_compare_evaluation.html", ref=model, evaluation=evaluation, files=files, fmt=formatting)


@router.post("/ui/compare/evaluate")
async def evaluate(request: Request, model: str = Form(...), eval_file: str = Form(""), rerun: bool = Form(False),
                   api: httpx.AsyncClient = Depends(api_client.client)):
    body = {"model": model, "rerun": rerun, **({"eval_file": eval_file} if eval_file else {})}
    ok(await api.post("/v1/evaluations", json=body))
    if not is_htmx(request):
        return RedirectResponse(f"/ui/compare?model={model}", status_code=303)
    return await evaluation_fragment(request, model, api)


async def _ask(api, model: str, text: str) -> dict:
    started = time.perf_counter()
    response = await api.post("/v1/chat/completions", json={
        "model": model, "messages": [{"role": "user", "content": text}], "temperature": 0,
        "max_tokens": TRY_MAX_TOKENS})
    latency_ms = 1000 * (time.perf_counter() - started)
    if not response.is_success:
        return {"model": model, "error": (response.json().get("error") or {}).get("message", response.text),
                "latency_ms": latency_ms}
    choice = response.json()["choices"][0]
    return {"model": model, "answer": choice["message"]["content"], "latency_ms": latency_ms}


@router.post("/ui/compare/try")
async def try_live(request: Request, input: str = Form(...), models: list[str] = Form([]),
                   api: httpx.AsyncClient = Depends(api_client.client)):
    """The same input to every ticked model at once, through the public chat completions API."""
    answers = await asyncio.gather(*(_ask(api, m, input) for m in models)) if input.strip() else []
    return fragment(request, "_compare_try.html", answers=answers, asked=bool(models), fmt=formatting)
