"""GET /metrics: Prometheus text format (serve/metrics.py). Needs an API key when the server has keys."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from tuneforge.serve.security import authorize

router = APIRouter()


@router.get("/metrics", dependencies=[Depends(authorize)], include_in_schema=False)
async def metrics(request: Request):
    payload, content_type = request.app.state.metrics.render()
    return Response(payload, media_type=content_type)
