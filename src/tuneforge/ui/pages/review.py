"""The *Review* page (/ui/review). Owned by the ui-pages branch, which describes its user flow here."""

from __future__ import annotations

import httpx
from fastapi import APIRouter, Depends, Request

from tuneforge.ui import api_client
from tuneforge.ui.render import page

router = APIRouter(include_in_schema=False)


@router.get("/ui/review")
async def review_page(request: Request, api: httpx.AsyncClient = Depends(api_client.client)):
    return page(request, "review.html", "Review")
