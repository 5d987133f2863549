"""Evaluations over HTTP: the eval.json of a registered version (every system: prompted, classical, the
production version; intervals, paired tests, the recommendation, the worst errors side by side), and starting
one on its held-out data when there is none (registry/evaluate.py, which runs eval/compare.run_eval).

    GET  /v1/evaluations/{model}   model: name:version, name@stage, name, an ft: model id or a job id;
                                   `status` is not_started, running, failed or succeeded
    POST /v1/evaluations           body: config.EvaluateBody; starts the evaluation in the background

Scoped by owner like the registry (serve/registry_access.py); a job or ft: model of another owner is a 404.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request

from tuneforge.config import EvaluateBody
from tuneforge.serve.background import tasks_of
from tuneforge.serve.errors import ApiError
from tuneforge.serve.principal import Principal
from tuneforge.serve.registry_access import caller, check_name

WORST_SHOWN = 10


def _not_found(model: str) -> ApiError:
    return ApiError(404, f"The model `{model}` does not exist or you do not have access to it.", param="model",
                    code="model_not_found")


def resolve_version(model: str, who: Principal) -> str:
    """The registry version (`name:N`) that `model` names, checking the caller may see it."""
    from tuneforge.jobs.store import JobStore
    from tuneforge.registry.store import Registry, RegistryError

    if model.startswith(("ftjob-", "ft:")):
        store = JobStore()
        try:
            if model.startswith("ftjob-"):
                job = store.get_job(model)
                if job is None or not who.can_see(job["owner"]):
                    raise _not_found(model)
                if job["status"] != "succeeded":
                    raise ApiError(400, f"Job {model} is {job['status']}; evaluate it once it has succeeded.",
                                   param="model", code="job_not_finished")
                model = job["fine_tuned_model"]
            record = store.get_model(model)
        finally:
            store.close()
        if record is None or not who.can_see(record["owner"]) or not record["variant_ref"]:
            raise _not_found(model)
        return record["variant_ref"]
    check_name(who, model)
    registry = Registry()
    try:
        return registry.get(model).ref
    except RegistryError as err:
        raise ApiError(404, str(err), param="model", code="model_not_found") from None
    finally:
        registry.close()


def _eval_file_path(file_id: str, who: Principal) -> str:
    from tuneforge.jobs.files import FileStore
    from tuneforge.jobs.store import JobStore

    store = JobStore()
    try:
        record = store.get_file(file_id)
        if record is None or not who.can_see(record["owner"]):
            raise ApiError(400, f"File {file_id} not found.", param="eval_file", code="file_not_found")
        return str(FileStore(store).path_of(record))
    finally:
        store.close()


def _system_object(name: str, s: dict) -> dict:
    return {"name": name, "kind": s.get("kind"), "decoding": s.get("decoding"), "n": s.get("n"),
            "metrics": s.get("metrics", {}), "ci": s.get("ci", {}), "ci_method": s.get("ci_method", {}),
            "latency_p50_s": s.get("latency_p50_s"), "mean_tokens_in": s.get("mean_tokens_in"),
            "cost_per_1k_requests": s.get("cost_per_1k_requests"),
            "calibration": s.get("calibration")}  # ECE on these rows, for systems that state probabilities


def evaluation_object(ref: str, report) -> dict:
    """An eval/eval_file.EvalReport as the API shows it."""
    from tuneforge.eval.html_report import example_right, worst_examples

    raw = report.raw
    focus, shown, worst = worst_examples(raw, WORST_SHOWN) if raw.get("examples") and raw.get("task") else (
        report.default_system(), list(report.systems), [])
    return {
        "object": "evaluation", "model": ref, "status": "succeeded", "created_at": raw.get("created_at"),
        "task": raw.get("task"), "labels": raw.get("labels"), "data": Path(report.data).name if report.data else None,
        "examples": len(raw.get("examples", [])), "headline_metrics": raw.get("headline_metrics", []),
        "confidence": (raw.get("config") or {}).get("confidence", 0.95), "interval_methods": report.interval_methods(),
        "systems": [_system_object(n, s) for n, s in report.systems.items()],
        "significance": [{k: t.get(k) for k in ("a", "b", "metric", "delta", "p_value", "test")}
                         for t in raw.get("significance", [])],
        "recommendation": raw.get("recommendation"),
        "leakage": {k: v.get("overlap", 0) for k, v in (raw.get("leakage") or {}).items() if v.get("checked")},
        "worst_errors": {"focus": focus, "systems": shown, "examples": [
            {"line": ex.get("line"), "input": ex.get("input"), "reference": ex.get("reference"),
             "predictions": {n: ex.get("predictions", {}).get(n) for n in shown},
             "right": {n: example_right(raw, ex, n) for n in shown}} for ex in worst]},
    }


def _status(request: Request, ref: str) -> dict:
    from tuneforge.eval.eval_file import read_eval
    from tuneforge.registry.store import Registry

    task = tasks_of(request.app).get(f"eval:{ref}")
    if task is not None and task.status == "running":
        return {"object": "evaluation", "model": ref, **task.to_json()}
    registry = Registry()
    try:
        v = registry.get(ref)
    finally:
        registry.close()
    if v.eval_path and Path(v.eval_path).is_file():
        return evaluation_object(ref, read_eval(v.eval_path))
    if task is not None:  # failed, or succeeded without a recorded file (should not happen)
        return {"object": "evaluation", "model": ref, **task.to_json()}
    return {"object": "evaluation", "model": ref, "status": "not_started"}


def evaluations_router() -> APIRouter:
    router = APIRouter()

    @router.get("/v1/evaluations/{model:path}")
    def get_evaluation(model: str, request: Request):
        return _status(request, resolve_version(model, caller(request)))

    @router.post("/v1/evaluations")
    def create_evaluation(body: EvaluateBody, request: Request):
        from tuneforge.errors import UserError
        from tuneforge.registry.evaluate import data_for, evaluate_version

        who = caller(request)
        ref = resolve_version(body.model, who)
        check_name(who, ref, write=True)
        current = _status(request, ref)
        if current["status"] == "running" or (current["status"] == "succeeded" and not body.rerun):
            return current
        try:  # refuse now, not minutes later, when there is nothing to evaluate on
            data = _eval_file_path(body.eval_file, who) if body.eval_file else data_for(ref)
        except UserError as err:
            raise ApiError(400, err.message + (f" ({err.hint})" if err.hint else ""), param="eval_file") from None
        tasks_of(request.app).start(f"eval:{ref}", lambda log: evaluate_version(ref, data, body.limit, log) and None)
        return _status(request, ref)

    return router
