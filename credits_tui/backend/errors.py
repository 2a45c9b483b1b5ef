"""Errors the services raise; the API maps each to the error envelope once (``api/errors.py``)."""

from __future__ import annotations


class ServiceError(Exception):
    """A refusal a person can act on: HTTP status, a stable snake_case code, a message."""

    status = 400

    def __init__(self, code: str, message: str, field: str | None = None, *,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers or {}


class BadRequest(ServiceError):
    status = 400


class Unauthorized(ServiceError):
    status = 401

    def __init__(self, code: str, message: str, field: str | None = None, *,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(code, message, field, headers={"WWW-Authenticate": "Bearer", **(headers or {})})


class PaymentRequired(ServiceError):
    status = 402


class Forbidden(ServiceError):
    status = 403


class NotFound(ServiceError):
    status = 404


class Conflict(ServiceError):
    status = 409


class Unprocessable(ServiceError):
    status = 422


class TooManyRequests(ServiceError):
    status = 429


class PaymentGatewayError(ServiceError):
    """The payment processor failed; nothing was charged and the request may be retried."""

    status = 502
