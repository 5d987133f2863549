"""OpenAI's files API for fine-tuning data: upload (multipart, purpose=fine-tune), list, retrieve, delete, content.

Files belong to the caller's key owner (serve/principal.py): another owner gets 404 and never sees them listed;
admin keys see all. Storage, size limit and content hashing are jobs/files.py's.
"""

from __future__ import annotations

from typing import Literal, Optional

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse

from tuneforge.jobs.files import UPLOAD_PURPOSES, FileTooLarge, file_object
from tuneforge.serve.errors import ApiError
from tuneforge.serve.principal import LOCAL, Principal, current_principal
from tuneforge.serve.security import check_api_key


def caller(request: Request, keys) -> Principal:
    """401 without a valid key; else who is calling (local-only mode: the local admin)."""
    check_api_key(request.headers.get("authorization"), keys)
    return current_principal() or LOCAL


def owned_file(service, file_id: str, who: Principal) -> dict:
    record = service.store.get_file(file_id)
    if record is None or not who.can_see(record["owner"]):
        raise ApiError(404, f"No such File object: {file_id}", param="id", code="file_not_found")
    return record


def files_router(service, keys) -> APIRouter:
    router = APIRouter()

    @router.post("/v1/files")
    def upload(request: Request, file: UploadFile = File(...), purpose: str = Form(...)):
        who = caller(request, keys)
        if purpose not in UPLOAD_PURPOSES:
            raise ApiError(400, f"purpose {purpose!r} is not supported here; use one of {', '.join(UPLOAD_PURPOSES)}",
                           param="purpose")
        try:
            record = service.files.save(who.owner, file.filename or "upload.jsonl", file.file, purpose)
        except FileTooLarge as err:
            raise ApiError(413, str(err), code="file_too_large", param="file") from None
        return file_object(record)

    @router.get("/v1/files")
    def list_files(request: Request, purpose: Optional[str] = None, after: Optional[str] = None,
                   limit: int = Query(10_000, ge=1, le=10_000), order: Literal["asc", "desc"] = "desc"):
        who = caller(request, keys)
        rows, more = service.store.list_files(None if who.admin else who.owner, purpose, after, limit, order == "desc")
        data = [file_object(r) for r in rows]
        return {"object": "list", "data": data, "has_more": more,
                "first_id": data[0]["id"] if data else None, "last_id": data[-1]["id"] if data else None}

    @router.get("/v1/files/{file_id}")
    def retrieve(file_id: str, request: Request):
        return file_object(owned_file(service, file_id, caller(request, keys)))

    @router.delete("/v1/files/{file_id}")
    def delete(file_id: str, request: Request):
        record = owned_file(service, file_id, caller(request, keys))
        service.files.delete(record)
        return {"id": file_id, "object": "file", "deleted": True}

    @router.get("/v1/files/{file_id}/content")
    def content(file_id: str, request: Request):
        record = owned_file(service, file_id, caller(request, keys))
        media = "text/csv" if record["filename"].endswith(".csv") else "application/octet-stream"
        return FileResponse(service.files.path_of(record), media_type=media, filename=record["filename"])

    return router
