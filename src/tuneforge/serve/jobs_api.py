"""OpenAI's fine-tuning jobs API: create, list (after, limit, metadata[k]), retrieve, cancel, pause, resume,
events, checkpoints; and `DELETE /v1/models/{id}` for the fine-tuned models the jobs made.

`mount_fine_tuning(app, service, keys)` adds these routes and the files API to a server app, with the middleware
that tells the catalog who is calling (so another owner's fine-tuned models stay invisible everywhere).
Jobs belong to the caller's key owner: other owners get 404 and never see them listed; admin keys see all.
"""

from __future__ import annotations

from typing import Optional

from fastapi import APIRouter, Query, Request

from tuneforge.jobs.service import checkpoint_object, event_object, job_object
from tuneforge.jobs.spec import CreateJob, SpecError
from tuneforge.jobs.worker import JobStateError
from tuneforge.serve.errors import ApiError
from tuneforge.serve.files_api import caller, files_router
from tuneforge.serve.principal import Principal, PrincipalMiddleware


def _page(data: list[dict], more: bool) -> dict:
    return {"object": "list", "data": data, "has_more": more}


def jobs_router(service, keys) -> APIRouter:
    router = APIRouter()
    store = service.store

    def owned_job(job_id: str, who: Principal) -> dict:
        job = store.get_job(job_id)
        if job is None or not who.can_see(job["owner"]):
            raise ApiError(404, f"No fine-tuning job found with id {job_id}", param="fine_tuning_job_id",
                           code="fine_tuning_job_not_found")
        return job

    def usable_file(file_id: str | None, who: Principal, param: str) -> None:
        if file_id is None:
            return
        record = store.get_file(file_id)
        if record is None or not who.can_see(record["owner"]):
            raise ApiError(400, f"File {file_id} not found.", param=param, code="file_not_found")
        if record["purpose"] != "fine-tune":
            raise ApiError(400, f"File {file_id} has purpose {record['purpose']!r}; upload it with purpose "
                                "'fine-tune'.", param=param, code="invalid_file_purpose")

    @router.post("/v1/fine_tuning/jobs")
    def create(body: CreateJob, request: Request):
        who = caller(request, keys)
        usable_file(body.training_file, who, "training_file")
        usable_file(body.validation_file, who, "validation_file")
        if body.model.startswith("ft:"):
            raise ApiError(400, "fine-tuning a fine-tuned model is not supported; use its base model",
                           param="model", code="model_not_available")
        try:
            job = service.create_job(who.owner, body)
        except SpecError as err:
            raise ApiError(400, str(err), param=err.param) from None
        return job_object(job)

    @router.get("/v1/fine_tuning/jobs")
    def list_jobs(request: Request, after: Optional[str] = None, limit: int = Query(20, ge=1, le=100)):
        who = caller(request, keys)
        # metadata[k]=v, OpenAI's deep-object query form (the openai client writes it so).
        metadata = {k[len("metadata["):-1]: v for k, v in request.query_params.items()
                    if k.startswith("metadata[") and k.endswith("]")}
        rows, more = store.list_jobs(None if who.admin else who.owner, after, limit, metadata)
        return _page([job_object(j) for j in rows], more)

    @router.get("/v1/fine_tuning/jobs/{job_id}")
    def retrieve(job_id: str, request: Request):
        return job_object(owned_job(job_id, caller(request, keys)))

    def action(name: str):
        def run(job_id: str, request: Request):
            owned_job(job_id, caller(request, keys))
            try:
                return job_object(getattr(service.worker, name)(job_id))
            except JobStateError as err:
                raise ApiError(400, str(err), param="fine_tuning_job_id") from None

        run.__name__ = name
        return run

    for name in ("cancel", "pause", "resume"):
        router.post(f"/v1/fine_tuning/jobs/{{job_id}}/{name}")(action(name))

    @router.get("/v1/fine_tuning/jobs/{job_id}/events")
    def events(job_id: str, request: Request, after: Optional[str] = None, limit: int = Query(20, ge=1, le=1000)):
        owned_job(job_id, caller(request, keys))
        rows, more = store.list_events(job_id, after, limit)
        return _page([event_object(e) for e in rows], more)

    @router.get("/v1/fine_tuning/jobs/{job_id}/checkpoints")
    def checkpoints(job_id: str, request: Request, after: Optional[str] = None,
                    limit: int = Query(10, ge=1, le=100)):
        job = owned_job(job_id, caller(request, keys))
        rows, more = store.list_checkpoints(job_id, after, limit)
        # Only checkpoints still on disk: like OpenAI, a job keeps those of its last three epochs.
        data = [checkpoint_object(r, job) for r in rows if service.checkpoint_exists(r)]
        return {**_page(data, more), "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None}

    @router.delete("/v1/models/{model_id:path}")
    def delete_model(model_id: str, request: Request):
        who = caller(request, keys)
        model = store.get_model(model_id)
        if model is None or not who.can_see(model["owner"]):
            raise ApiError(404, f"The model `{model_id}` does not exist or you do not have access to it.",
                           param="model", code="model_not_found")
        service.delete_model(model)
        return {"id": model_id, "object": "model", "deleted": True}

    return router


def mount_fine_tuning(app, service, keys) -> None:
    """Add the files and fine-tuning jobs API to `app` (routes + the caller-identifying middleware)."""
    app.add_middleware(PrincipalMiddleware, keys=keys)
    app.include_router(files_router(service, keys))
    app.include_router(jobs_router(service, keys))
