"""The *Monitor* page (/ui/monitor): how a deployed variant is doing over time, and when to retrain it.

User flow (labels and button texts are stable; browser tests select by them):
1. "Variant" (a select of registered names), "Requests per window" (a number, default the policy's window) and
   the button "Show" (a GET form: /ui/monitor?variant=NAME&window=N).
2. "Latest window": requests, median and 95th-percentile latency, valid answers, estimated accuracy (from the
   model's confidence, with its 95% interval), reviewed accuracy (from reviewers' corrections, with its interval
   and the number reviewed), and the drift numbers (input length and vocabulary PSI, domain classifier AUC, label
   drift).
3. "Alerts": each alert of the policy on the latest window, or "No alerts.".
4. Four uPlot charts over time, one point per window: "Volume" (requests), "Latency" (p50 and p95 in ms),
   "Validity and accuracy" (valid answers, estimated and reviewed accuracy) and "Drift" (length PSI, vocabulary
   PSI, domain AUC, label drift). The same numbers are in the table "Numbers per window" (inside a <details>).
5. "Retraining": whether a retrain is due and why ("Retrain due: yes/no — REASON"), corrections waiting against
   the policy's minimum, whether the policy retrains automatically, the distinct fresh inputs held out for the
   gate against `min_fresh_inputs`; the button "Retrain now" starts `tuneforge retrain NAME` on the server (the
   status line then says "Retraining…" and refreshes itself every 2 seconds until it shows the result: the new
   version and whether the gate promoted it, or the error). Like the CLI it needs `min_corrections` but does not
   wait for `min_fresh_inputs` (that wait is the automatic trigger's); below it the page says the gate may refuse
   a better version for lack of evidence, and the retrain's log and report say so too.
   Under "Policy" the name's policy in force ("Minimum corrections", "Window", "Automatic retraining", ...); the
   owner changes the minimum with "Corrections needed before a retrain" and "Save policy" (PATCH
   /v1/monitor/NAME/policy, which writes TUNEFORGE_HOME/monitor/NAME/policy.yaml).
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlencode

import httpx
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse

from tuneforge.ui import api_client
from tuneforge.ui.api_client import ApiFailure, ok
from tuneforge.ui.pages import formatting
from tuneforge.ui.pages.choices import default_name, registered
from tuneforge.ui.render import fragment, is_htmx, page

router = APIRouter(include_in_schema=False)

# (chart title, y-axis unit, [(series key in the API's `series`, legend label)])
CHARTS = [
    ("Volume", "requests", [("requests", "requests")]),
    ("Latency", "ms", [("latency_p50_ms", "p50"), ("latency_p95_ms", "p95")]),
    ("Validity and accuracy", "share", [("validity", "valid answers"), ("estimated_accuracy", "estimated accuracy"),
                                        ("reviewed_accuracy", "reviewed accuracy")]),
    ("Drift", "score", [("length_psi", "length PSI"), ("vocabulary_psi", "vocabulary PSI"),
                        ("domain_auc", "domain AUC"), ("label_drift_js", "label drift (JS)")]),
]


async def _retrain(api, name: str) -> dict:
    return ok(await api.get(f"/v1/monitor/{name}/retrain"))


@router.get("/ui/monitor")
async def monitor_page(request: Request, variant: str | None = None, window: int | None = None,
                       api: httpx.AsyncClient = Depends(api_client.client)):
    models = await registered(api)
    name = variant or default_name(models)
    summary = retrain = None
    if name:
        params = {"window": window} if window else {}
        summary, retrain = await asyncio.gather(
            api.get(f"/v1/monitor/{name}", params=params), _retrain(api, name))
        summary = ok(summary)
    return page(request, "monitor.html", "Monitor", models=models, chosen=name, summary=summary, retrain=retrain,
                charts=CHARTS, fmt=formatting, policy_error=request.query_params.get("policy_error"))


@router.post("/ui/monitor/policy")
async def save_policy(variant: str = Form(...), min_corrections: str = Form(""),
                      api: httpx.AsyncClient = Depends(api_client.client)):
    """The policy form: PATCH /v1/monitor/{name}/policy; a refused value is shown above the form."""
    query = {"variant": variant}
    try:
        ok(await api.patch(f"/v1/monitor/{variant}/policy", json={"min_corrections": int(min_corrections)}))
    except ValueError:
        query["policy_error"] = "Corrections needed before a retrain: enter a whole number of at least 1."
    except ApiFailure as err:
        if err.status == 404:
            raise
        query["policy_error"] = err.message
    return RedirectResponse("/ui/monitor?" + urlencode(query), status_code=303)


@router.get("/ui/monitor/retrain")
async def retrain_fragment(request: Request, variant: str, api: httpx.AsyncClient = Depends(api_client.client)):
    """The retrain status line alone: htmx polls it while a retrain runs."""
    return fragment(request, "_monitor_retrain.html", chosen=variant, retrain=await _retrain(api, variant),
                    fmt=formatting)


@router.post("/ui/monitor/retrain")
async def start_retrain(request: Request, variant: str = Form(...),
                        api: httpx.AsyncClient = Depends(api_client.client)):
    ok(await api.post(f"/v1/monitor/{variant}/retrain", json={}))
    if not is_htmx(request):
        return RedirectResponse(f"/ui/monitor?variant={variant}", status_code=303)
    return await retrain_fragment(request, variant, api)
