"""The *Deploy* page (/ui/deploy): which version answers in production, how it got there, and how to call it.

User flow (labels and button texts are stable; browser tests select by them):
1. One section per registered name (heading = the name). It says "In production: NAME:N" (or "Nothing in
   production yet."), and a table "Versions of NAME" lists each version: Version, Stage, the fine-tuned accuracy
   (or the task's first headline metric), Dataset, Registered, the fine-tuning job that made it.
2. Each version not in production has a button "Promote NAME:N to production". It goes through the promotion
   gate (the variant must beat the best prompted baseline, and the production version, significantly); the
   result appears in the status line at the top of the section (id="deploy-message"): "NAME:N is now in
   production." with the gate's reasons, or "Not promoted: …" with the gate's reason (role=alert).
   "Gate settings" (a <details>, folded) holds "Required confidence" (default 0.95; 0 turns the significance test
   off) and "Minimum improvement" (default 0, in the metric's units), sent with every promote button.
3. When a name has had an earlier production version, the button "Roll back NAME" puts it back (the current one
   is archived); the status line says "NAME:M is back in production; NAME:N is archived".
4. "Stage history of NAME:N" (a <details> per version) lists every stage change with its reason; "Lineage of NAME"
   (a <details>) lists the steps that made each version (dataset, train, evaluate, gate, promote).
5. "Use it": copy-paste snippets for the production model (or the newest version): "Python (openai client)",
   "curl" and "Export to GGUF for Ollama", each with a "Copy" button (accessible name "Copy TITLE for NAME",
   e.g. "Copy curl for invoice").
"""

from __future__ import annotations

import asyncio

import httpx
from fastapi import APIRouter, Depends, Form, Request

from tuneforge.ui import api_client
from tuneforge.ui.api_client import ApiFailure, ok
from tuneforge.ui.pages import formatting
from tuneforge.ui.pages.choices import registered
from tuneforge.ui.render import fragment, is_htmx, page

router = APIRouter(include_in_schema=False)


def headline(version: dict) -> str:
    """The fine-tuned system's first headline metric from the version's recorded evaluation."""
    tuned = (version.get("metrics") or {}).get("fine-tuned") or {}
    if not tuned:
        return "not evaluated"
    metric, value = next(iter(tuned.items()))
    return f"{metric} {formatting.pct(value)}"


def snippets(base_url: str, model: str) -> dict[str, str]:
    """What a developer pastes to use `model`: the openai client, curl, and the GGUF export for Ollama."""
    name = model.split("@")[0].split(":")[0]
    return {
        "Python (openai client)": (
            "from openai import OpenAI\n\n"
            f'client = OpenAI(base_url="{base_url}/v1", api_key="YOUR_API_KEY")\n'
            "reply = client.chat.completions.create(\n"
            f'    model="{model}",\n'
            '    messages=[{"role": "user", "content": "YOUR INPUT"}],\n'
            ")\n"
            "print(reply.choices[0].message.content)\n"),
        "curl": (
            f"curl {base_url}/v1/chat/completions \\\n"
            '  -H "Authorization: Bearer $TUNEFORGE_API_KEY" \\\n'
            '  -H "Content-Type: application/json" \\\n'
            f'  -d \'{{"model": "{model}", "messages": [{{"role": "user", "content": "YOUR INPUT"}}]}}\'\n'),
        "Export to GGUF for Ollama": (
            f"tuneforge models export {name}@production --format gguf --out exports/{name}-gguf\n"
            f"cd exports/{name}-gguf && ollama create {name} -f Modelfile\n"
            f'ollama run {name} "YOUR INPUT"\n'),
    }


async def _details(api, models: list[dict]) -> list[dict]:
    """Each name with its versions' stage history and its lineage (GET /v1/registry/models/{name})."""
    return await asyncio.gather(*(api.get(f"/v1/registry/models/{m['name']}") for m in models))


async def _body(request: Request, api, message: str | None = None, failed: bool = False) -> dict:
    models = await registered(api)
    names = [ok(r) for r in await _details(api, models)]
    base_url = str(request.base_url).rstrip("/")
    for m in names:
        # As registry.rollback decides: an earlier production version that is not archived.
        m["rollback_possible"] = m["production"] is not None and any(
            h["from"] == "production" for v in m["versions"] if v["stage"] != "archived" and v["ref"] != m["production"]
            for h in v["history"])
        m["snippets"] = snippets(base_url, m["name"])
    return {"names": names, "message": message, "failed": failed, "fmt": formatting, "headline": headline}


@router.get("/ui/deploy")
async def deploy_page(request: Request, api: httpx.AsyncClient = Depends(api_client.client)):
    return page(request, "deploy.html", "Deploy", **await _body(request, api))


async def _after(request: Request, api, message: str, failed: bool):
    if is_htmx(request):
        return fragment(request, "_deploy_body.html", **await _body(request, api, message, failed))
    return page(request, "deploy.html", "Deploy", **await _body(request, api, message, failed))


def _gate_lines(gate: list[dict]) -> str:
    return " ".join(formatting.gate_text(g["reason"]) for g in gate)


@router.post("/ui/deploy/promote")
async def promote(request: Request, ref: str = Form(...), confidence: str = Form(""), min_delta: str = Form(""),
                  api: httpx.AsyncClient = Depends(api_client.client)):
    body = {"to": "production"}
    try:  # empty: the gate's defaults; a bad number: the API's own validation message
        body.update({k: float(v) for k, v in (("confidence", confidence), ("min_delta", min_delta)) if v.strip()})
    except ValueError:
        return await _after(request, api, "Not promoted: gate settings must be numbers.", True)
    response = await api.post(f"/v1/registry/models/{ref}/promote", json=body)
    try:
        body = ok(response)
    except ApiFailure as err:
        if err.status not in (400, 409):
            raise
        return await _after(request, api, f"Not promoted: {formatting.gate_text(err.message)}", True)
    gate = _gate_lines(body["gate"])
    return await _after(request, api, f"{body['ref']} is now in production." + (f" Gate: {gate}" if gate else ""),
                        False)


@router.post("/ui/deploy/rollback")
async def rollback(request: Request, name: str = Form(...), api: httpx.AsyncClient = Depends(api_client.client)):
    response = await api.post(f"/v1/registry/models/{name}/rollback")
    try:
        body = ok(response)
    except ApiFailure as err:
        if err.status != 400:
            raise
        return await _after(request, api, f"Not rolled back: {err.message}", True)
    return await _after(request, api, body["reason"], False)
