"""What can go wrong talking to the server, as types. Each carries the server's message.

The app and the CLI map these to what a person reads; nothing else inspects status codes.
A token is never part of an error's text.
"""

from __future__ import annotations


class ApiError(Exception):
    """Base of every client error: ``message`` is for a person, ``code`` for programs."""

    def __init__(self, message: str, *, code: str = "error", status: int | None = None,
                 field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.field = field

    def __str__(self) -> str:
        return self.message


class AuthenticationError(ApiError):
    """401: no valid sign-in (bad password, expired or revoked token)."""


class ForbiddenError(ApiError):
    """403: signed in, but this role may not do this."""


class NotFoundError(ApiError):
    """404: there is no such thing (for example no card on file)."""


class ValidationError(ApiError):
    """400/422: the request was refused as invalid; ``field`` names the culprit if known."""


class PaymentRequiredError(ApiError):
    """402: money stands in the way."""


class CardDeclinedError(PaymentRequiredError):
    """402 card_declined: the issuer refused the charge; nothing was added."""


class CardRequiredError(PaymentRequiredError):
    """402 card_required: add a card on file first."""


class InsufficientCreditsError(PaymentRequiredError):
    """402 insufficient_credits: the balance does not cover a prepaid use."""


class ConflictError(ApiError):
    """409: the request conflicts with the state (removal needs accounting, key in progress)."""


class RateLimitedError(ApiError):
    """429: too many attempts; ``retry_after`` seconds to wait, when the server said."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class ServerError(ApiError):
    """5xx: the server or the payment processor failed."""


class NetworkError(ApiError):
    """The server could not be reached, or the connection dropped."""


class TimeoutError(NetworkError):
    """The server did not answer in time. For a purchase, retrying with the same key is safe."""


class ProtocolError(ApiError):
    """The answer was not what the API promises (not JSON, wrong shape, truncated)."""


_BY_STATUS: dict[int, type[ApiError]] = {
    400: ValidationError,
    401: AuthenticationError,
    402: PaymentRequiredError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
    422: ValidationError,
    429: RateLimitedError,
}
_BY_CODE: dict[str, type[ApiError]] = {
    "card_declined": CardDeclinedError,
    "card_required": CardRequiredError,
    "insufficient_credits": InsufficientCreditsError,
}


def error_for(status: int, code: str, message: str, field: str | None = None,
              retry_after: float | None = None) -> ApiError:
    """The error type for an error envelope the server sent."""
    kind = _BY_CODE.get(code) or _BY_STATUS.get(status) or (ServerError if status >= 500 else ApiError)
    if kind is RateLimitedError:
        return RateLimitedError(message, retry_after=retry_after, code=code, status=status, field=field)
    return kind(message, code=code, status=status, field=field)
