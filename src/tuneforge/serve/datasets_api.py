"""The data workbench's HTTP API, for the web app's Data page and any client (logic in jobs/datasets.py):

- `POST /v1/datasets/check` {file_id, input_column, output_column, fixes, ...} -> findings (line, field, message,
  fix), readiness verdict with reasons, and the time/memory estimate of a default fine-tuning job;
- `POST /v1/datasets` (same body + name) -> an immutable dataset version whose `training_file` is a fine-tune file
  for `POST /v1/fine_tuning/jobs`;
- `GET /v1/datasets`, `GET /v1/datasets/{id}`.

Owner isolation as in the files and jobs API: the file must be the caller's, another owner's datasets are 404 and
never listed, admin keys see all.
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request

from tuneforge.config import DatasetCheckBody, DatasetCreateBody
from tuneforge.errors import UserError
from tuneforge.jobs import datasets as workbench
from tuneforge.serve.errors import ApiError
from tuneforge.serve.files_api import caller, owned_file


def datasets_router(service, keys) -> APIRouter:
    router = APIRouter()
    store = workbench.DatasetStore()

    def source(body: DatasetCheckBody, who) -> dict:
        try:
            return owned_file(service, body.file_id, who)
        except ApiError as err:
            err.param = "file_id"
            raise

    def base_of(body: DatasetCheckBody) -> str:
        return service.base_for(body.model) if body.model else workbench.default_base(service.catalog)

    @router.post("/v1/datasets/check")
    def check(body: DatasetCheckBody, request: Request):
        record = source(body, caller(request, keys))
        try:
            return workbench.check(service.files.path_of(record), record, body, base_of(body))
        except UserError as err:
            raise ApiError(400, str(err), param="fixes") from None

    @router.post("/v1/datasets")
    def create(body: DatasetCreateBody, request: Request):
        who = caller(request, keys)
        record = source(body, who)
        try:
            row = workbench.save(service.files, store, who.owner, record, body)
        except workbench.DatasetRefused as err:
            raise ApiError(400, str(err), code="invalid_dataset", param="file_id") from None
        except UserError as err:
            raise ApiError(400, str(err), param="fixes") from None
        return workbench.dataset_object(row)

    @router.get("/v1/datasets")
    def list_datasets(request: Request, limit: int = Query(100, ge=1, le=1000)):
        who = caller(request, keys)
        rows, more = store.list(None if who.admin else who.owner, limit)
        return {"object": "list", "data": [workbench.dataset_object(r) for r in rows], "has_more": more}

    @router.get("/v1/datasets/{dataset_id}")
    def retrieve(dataset_id: str, request: Request):
        who = caller(request, keys)
        row = store.get_version(None if who.admin else who.owner, dataset_id)
        if row is None:
            raise ApiError(404, f"No dataset found with id {dataset_id}", param="dataset_id",
                           code="dataset_not_found")
        return workbench.dataset_object(row)

    return router
