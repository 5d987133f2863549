"""The public HTTP API, called in-process by the pages with the session's key: the app is a face on the API.

An `httpx.AsyncClient` over `ASGITransport` on the same FastAPI app sends `Authorization: Bearer <key>`, so a page
sees exactly what the API shows that key: the same owner isolation, the same validation, the same errors.
Use it as a dependency: `async def handler(api: httpx.AsyncClient = Depends(api_client.client))`, then
`body = ok(await api.get("/v1/files"))`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
from fastapi import Depends, Request

from tuneforge.ui import session

BASE_URL = "http://tuneforge.internal"


class ApiFailure(Exception):
    """The API refused a page's request: its status and OpenAI-shaped message, shown to the user as they are."""

    def __init__(self, status: int, message: str, param: str | None = None):
        super().__init__(message)
        self.status, self.message, self.param = status, message, param


def for_key(request: Request, key: str) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=request.app), base_url=BASE_URL, headers=headers,
                             timeout=300)


async def client(request: Request, key: str = Depends(session.key_of)) -> AsyncIterator[httpx.AsyncClient]:
    """FastAPI dependency: an API client acting as the logged-in user (the 401 page if there is none)."""
    async with for_key(request, key) as api:
        yield api


def ok(response: httpx.Response) -> dict:
    """The JSON body of a successful API response; raises ApiFailure with the API's own message otherwise."""
    if response.is_success:
        return response.json()
    try:
        error = response.json().get("error") or {}
    except ValueError:
        error = {}
    if response.status_code == 401:
        raise session.NotLoggedIn(error.get("message") or "Your API key is not valid.")
    raise ApiFailure(response.status_code, error.get("message") or f"HTTP {response.status_code}", error.get("param"))
