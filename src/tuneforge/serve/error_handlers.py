"""Every error in OpenAI's shape ({"error": {"message", "type", "param", "code"}}) with the right status code.

Error bodies are written with ASCII escapes: a message may quote client input, and a lone surrogate in it would
make UTF-8 encoding fail, turning a 400 into a 500 that drops the connection.
"""

from __future__ import annotations

import json
import logging

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from tuneforge.serve.errors import ApiError, error_body
from tuneforge.serve.security import BodyTooLarge

log = logging.getLogger("tuneforge.serve")


class ErrorResponse(JSONResponse):
    def render(self, content) -> bytes:
        return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def _validation_error(exc: RequestValidationError) -> tuple[str, str | None, str]:
    first = exc.errors()[0] if exc.errors() else {}
    loc = [str(p) for p in first.get("loc", []) if p != "body"]
    param = ".".join(loc) or None
    kind = first.get("type", "")
    if kind == "extra_forbidden":
        return f"Unrecognized request argument supplied: {param}", param, "unrecognized_argument"
    if kind in ("json_invalid", "json_type"):
        return f"The request body is not valid JSON: {first.get('msg')}", None, "invalid_json"
    if kind == "lone_surrogate":
        return str(first.get("msg")), first["ctx"]["param"], "invalid_unicode"
    msg = str(first.get("msg", "invalid request")).removeprefix("Value error, ")
    return (f"{param}: {msg}" if param else msg), param, "invalid_value"


def install(app, max_body_bytes: int) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return ErrorResponse(exc.body(), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        message, param, code = _validation_error(exc)
        return ErrorResponse(error_body(message, "invalid_request_error", code, param), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        if isinstance(exc.__cause__, BodyTooLarge):  # a chunked body that grew past the limit while parsing
            return ErrorResponse(error_body(f"Request body is larger than the limit of {max_body_bytes} bytes.",
                                            "invalid_request_error", "request_too_large"), status_code=413)
        if exc.status_code == 400 and isinstance(exc.__cause__, ValueError):
            # Starlette/FastAPI refuse a body json.loads cannot read (e.g. an integer over 4300 digits).
            return ErrorResponse(error_body(f"The request body is not valid JSON: {exc.__cause__}",
                                            "invalid_request_error", "invalid_json"), status_code=400)
        kind = "not_found_error" if exc.status_code == 404 else "invalid_request_error"
        return ErrorResponse(error_body(str(exc.detail), kind), status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.exception("unhandled error on %s", request.url.path)
        return ErrorResponse(error_body("The server had an error while processing your request.", "server_error"),
                             status_code=500)
