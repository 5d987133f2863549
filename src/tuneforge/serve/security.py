"""Request guards: the body size limit (413) and API-key checking (401)."""

from __future__ import annotations

import json

from starlette.requests import Request

from tuneforge.serve.errors import error_body, unauthorized

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


class BodyTooLarge(Exception):
    pass


class BodySizeLimit:
    """ASGI middleware: refuses bodies over `max_bytes`, by Content-Length or while a chunked body streams in."""

    def __init__(self, app, max_bytes: int, path_limits: dict[str, int] | None = None):
        self.app = app
        self.max_bytes = max_bytes
        self.path_limits = path_limits or {}  # path prefix -> its own limit (file uploads)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = next((n for prefix, n in self.path_limits.items() if scope["path"].startswith(prefix)), self.max_bytes)
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            return await self._refuse(send, limit)
        seen = 0
        started = False

        async def limited_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge()
            return message

        async def tracking_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await self._refuse(send, limit)

    async def _refuse(self, send, limit: int):
        body = json.dumps(error_body(f"Request body is larger than the limit of {limit} bytes.",
                                     "invalid_request_error", "request_too_large")).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def check_api_key(authorization: str | None, keys) -> None:
    """Raise 401 unless `Authorization: Bearer <key>` holds an active key; `keys=None` means local-only mode."""
    if keys is None:
        return
    if not authorization or not authorization.lower().startswith("bearer "):
        raise unauthorized("You didn't provide an API key. Send it as 'Authorization: Bearer YOUR_KEY'.")
    if not keys.verify(authorization[7:].strip()):
        raise unauthorized("Incorrect API key provided.")


def authorize(request: Request) -> None:
    """FastAPI dependency: the app's key store (app.state.keys; None in local-only mode) must accept the request."""
    check_api_key(request.headers.get("authorization"), request.app.state.keys)
