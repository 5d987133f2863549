"""GET /health, /v1/models and /v1/models/{id}."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from tuneforge.serve.catalog import UnknownModel
from tuneforge.serve.errors import not_found
from tuneforge.serve.openai_shapes import model_card
from tuneforge.serve.security import authorize

router = APIRouter()


def lookup(request: Request, model_id: str):
    """The served model a request names (404 in OpenAI's shape when none)."""
    try:
        return request.app.state.catalog.resolve(model_id)
    except UnknownModel as err:
        raise not_found(str(err)) from None


@router.get("/health")
async def health():
    return {"status": "ok"}


@router.get("/v1/models", dependencies=[Depends(authorize)])
async def list_models(request: Request):
    return {"object": "list", "data": [model_card(m) for m in request.app.state.catalog.list()]}


@router.get("/v1/models/{model_id:path}", dependencies=[Depends(authorize)])
async def get_model(model_id: str, request: Request):
    return model_card(lookup(request, model_id))
