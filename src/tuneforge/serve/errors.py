"""Errors in OpenAI's shape: {"error": {"message", "type", "param", "code"}} with the matching status code."""

from __future__ import annotations


class ApiError(Exception):
    def __init__(self, status: int, message: str, type: str = "invalid_request_error", code: str | None = None,
                 param: str | None = None):
        super().__init__(message)
        self.status, self.message, self.type, self.code, self.param = status, message, type, code, param

    def body(self) -> dict:
        return error_body(self.message, self.type, self.code, self.param)


def error_body(message: str, type: str, code: str | None = None, param: str | None = None) -> dict:
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def unauthorized(message: str) -> ApiError:
    return ApiError(401, message, "invalid_request_error", "invalid_api_key")


def not_found(message: str) -> ApiError:
    return ApiError(404, message, "invalid_request_error", "model_not_found", "model")


def overloaded(message: str) -> ApiError:
    return ApiError(429, message, "rate_limit_error", "queue_full")
