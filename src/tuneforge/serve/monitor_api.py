"""The maintenance cycle over HTTP: the monitor's numbers over time and its alerts (monitor/cycle.run_cycle, the
same computation as `tuneforge monitor`), and retraining (monitor/retrain.retrain, as `tuneforge retrain`) started
in the background, with the policy that decides when one is due.

    GET  /v1/monitor/{name}           ?window=N (default: the policy's): series per window, latest window, alerts,
                                      whether a retrain is due and why
    GET  /v1/monitor/{name}/retrain   the policy, the retrain running or last run here, the last report on disk
    POST /v1/monitor/{name}/retrain   body: config.RetrainBody; starts `tuneforge retrain NAME`
    GET  /v1/monitor/{name}/policy    the policy in force (TUNEFORGE_HOME/monitor/NAME/policy.yaml or defaults)
    PATCH /v1/monitor/{name}/policy   body: config.PolicyUpdateBody; changes those keys of the policy file

Scoped by owner like the registry (serve/registry_access.py).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Optional

from fastapi import APIRouter, Query, Request

from tuneforge.config import PolicyUpdateBody, RetrainBody
from tuneforge.serve.background import tasks_of
from tuneforge.serve.registry_access import caller, check_name

# Per window: the name in the API's `series` -> how to read it from monitor/summary.window_stats' dict.
SERIES = {
    "requests": lambda w: w["requests"],
    "error_rate": lambda w: w["error_rate"],
    "latency_p50_ms": lambda w: w["latency_p50_ms"],
    "latency_p95_ms": lambda w: w["latency_p95_ms"],
    "validity": lambda w: w["validity"],
    "length_psi": lambda w: w.get("length_psi"),
    "vocabulary_psi": lambda w: w.get("vocabulary_psi"),
    "domain_auc": lambda w: (w.get("domain") or {}).get("auc"),
    "label_drift_js": lambda w: (w.get("label_drift") or {}).get("js_distance"),
    "estimated_accuracy": lambda w: (w.get("estimated_accuracy") or {}).get("value"),
    "estimated_accuracy_low": lambda w: ((w.get("estimated_accuracy") or {}).get("ci") or [None, None])[0],
    "estimated_accuracy_high": lambda w: ((w.get("estimated_accuracy") or {}).get("ci") or [None, None])[1],
    "reviewed_accuracy": lambda w: (w.get("measured_accuracy") or {}).get("value"),
    "reviewed_accuracy_low": lambda w: ((w.get("measured_accuracy") or {}).get("ci") or [None, None])[0],
    "reviewed_accuracy_high": lambda w: ((w.get("measured_accuracy") or {}).get("ci") or [None, None])[1],
    "reviewed": lambda w: (w.get("measured_accuracy") or {}).get("n", 0),
}


def _epoch(iso: str | None) -> int | None:
    return int(datetime.fromisoformat(iso).timestamp()) if iso else None


def series(windows: list[dict]) -> dict:
    """Columns for charts: `t` (each window's last request, seconds since the epoch) and one list per SERIES."""
    out = {"t": [_epoch(w["to"]) for w in windows]}
    out.update({name: [read(w) for w in windows] for name, read in SERIES.items()})
    return out


def _latest_report(name: str) -> dict | None:
    from tuneforge.monitor.confidence import monitor_dir

    reports = sorted(monitor_dir(name).glob("retrain-*/report.json"))
    return json.loads(reports[-1].read_text(encoding="utf-8")) if reports else None


def _retrain_status(request: Request, name: str) -> dict:
    from tuneforge.monitor.policy import policy_for

    task = tasks_of(request.app).get(f"retrain:{name}")
    return {"object": "monitor.retrain", "name": name, "policy": policy_for(name).model_dump(),
            "task": task.to_json() if task else None, "last_report": _latest_report(name)}


def monitor_api_router(traffic) -> APIRouter:
    router = APIRouter()

    @router.get("/v1/monitor/{name}")
    def summary(name: str, request: Request, window: Optional[int] = Query(None, ge=1, le=100_000)):
        from tuneforge.monitor.cycle import run_cycle
        from tuneforge.monitor.policy import policy_for

        name = check_name(caller(request), name)
        policy = policy_for(name)
        if window is not None:
            policy = policy.model_copy(update={"window": window})
        if traffic is not None:
            traffic.flush()  # the latest answers may still be in the writer's queue
        result = run_cycle(name, policy, score=False, allow_retrain=False, log=lambda m: None,
                           path=traffic.path if traffic is not None else None)
        s, v = result.summary, result.verdict
        return {"object": "monitor.summary", "name": name, "version": s["variant"], "requests": s["requests"],
                "corrections": s["corrections"], "window": s["window"], "labels": s.get("labels"),
                "series": series(s["windows"]), "latest": s["latest"], "alerts": v.alerts,
                "retrain": {"due": v.retrain, "reason": v.reason, "corrections_waiting": v.corrections,
                            "min_corrections": policy.min_corrections, "fresh_inputs_waiting": v.fresh_inputs,
                            "min_fresh_inputs": policy.min_fresh_inputs, "auto_retrain": policy.auto_retrain}}

    @router.get("/v1/monitor/{name}/retrain")
    def retrain_status(name: str, request: Request):
        return _retrain_status(request, check_name(caller(request), name))

    @router.post("/v1/monitor/{name}/retrain")
    def start_retrain(name: str, body: RetrainBody, request: Request):
        from tuneforge.monitor.policy import policy_for
        from tuneforge.monitor.retrain import retrain

        name = check_name(caller(request), name, write=True)
        policy = policy_for(name)
        if body.max_steps is not None:
            policy.retrain_max_steps = body.max_steps
        if traffic is not None:
            traffic.flush()

        def work(log):
            result = retrain(name, policy, log=log, reason="requested through the API")
            return {"new": result.new_ref, "promoted": result.promoted, "why": result.report.get("why", [])}

        tasks_of(request.app).start(f"retrain:{name}", work)
        return _retrain_status(request, name)

    @router.get("/v1/monitor/{name}/policy")
    def read_policy(name: str, request: Request):
        from tuneforge.monitor.policy import policy_for

        name = check_name(caller(request), name)
        return {"object": "monitor.policy", "name": name, **policy_for(name).model_dump()}

    @router.patch("/v1/monitor/{name}/policy")
    def change_policy(name: str, body: PolicyUpdateBody, request: Request):
        from tuneforge.monitor.policy import update_policy

        name = check_name(caller(request), name, write=True)  # the owner's (or an admin's) to change
        return {"object": "monitor.policy", "name": name,
                **update_policy(name, body.model_dump(exclude_unset=True)).model_dump()}

    return router
