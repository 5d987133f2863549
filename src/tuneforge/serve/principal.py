"""Who is calling: the owner behind a request's API key, for the isolation of files, jobs and fine-tuned models.

The owner is the key's name (so several keys of one application share its data), `admin` keys see everything,
and a server in local-only mode (no keys) treats its single local user as an admin. `PrincipalMiddleware` puts the
caller in a context variable for the duration of the request, so the model catalog can hide another owner's
fine-tuned models from routes that do not know about owners (`/v1/models`, `/v1/chat/completions`).
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass

LOCAL_OWNER = "local"


@dataclass(frozen=True)
class Principal:
    owner: str
    admin: bool = False

    def can_see(self, owner: str | None) -> bool:
        """Public things (owner None) are visible to all; owned ones to their owner and admins."""
        return owner is None or self.admin or owner == self.owner


LOCAL = Principal(LOCAL_OWNER, admin=True)
ANONYMOUS = Principal("", admin=False)  # no valid key: sees public models only (and gets 401 anyway)

_current: contextvars.ContextVar[Principal | None] = contextvars.ContextVar("tuneforge_principal", default=None)


def current_principal() -> Principal | None:
    """The caller of the request being handled, or None outside a request (in-process use sees everything)."""
    return _current.get()


def principal_for(authorization: str | None, keys) -> Principal:
    """Map an Authorization header to a principal; `keys=None` is local-only mode."""
    if keys is None:
        return LOCAL
    if not authorization or not authorization.lower().startswith("bearer "):
        return ANONYMOUS
    record = keys.identify(authorization[7:].strip())
    if record is None:
        return ANONYMOUS
    return Principal(record.name, bool(getattr(record, "admin", False)))


class PrincipalMiddleware:
    """ASGI middleware: resolves the caller once per HTTP request and exposes it through `current_principal()`."""

    def __init__(self, app, keys):
        self.app = app
        self.keys = keys

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        auth = headers.get(b"authorization")
        token = _current.set(principal_for(auth.decode("latin-1") if auth else None, self.keys))
        try:
            await self.app(scope, receive, send)
        finally:
            _current.reset(token)
