"""Every failure becomes the error envelope, once, here. Nothing else reaches a client."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from credits_tui.api_client.models import ErrorDetail, ErrorEnvelope
from credits_tui.backend.errors import ServiceError

log = logging.getLogger("credits_tui.backend")

# Error types our own validators raise: their type is already the public code.
_DOMAIN_CODES = {"invalid_amount", "amount_precision", "amount_below_minimum", "invalid_card_number"}
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 401: "authentication_required"}


def envelope(status: int, code: str, message: str, field: str | None = None,
             headers: dict[str, str] | None = None) -> JSONResponse:
    body = ErrorEnvelope(error=ErrorDetail(code=code, message=message, field=field))
    return JSONResponse(body.model_dump(mode="json"), status_code=status, headers=headers)


def _validation_error(exc: RequestValidationError) -> JSONResponse:
    error = exc.errors()[0]
    location = [str(part) for part in error.get("loc", ()) if part not in ("body", "query", "header", "path")]
    field = ".".join(location) or None
    kind = error.get("type", "")
    if kind in _DOMAIN_CODES:
        return envelope(422, kind, error["msg"], field)
    if kind == "json_invalid":
        return envelope(400, "invalid_json", "The request body is not valid JSON.")
    if kind == "missing":
        return envelope(422, "field_required", f"{field or 'A field'} is required.", field)
    if kind == "extra_forbidden":
        return envelope(422, "unknown_field", f"{field} is not a field of this request.", field)
    if not location:
        return envelope(422, "invalid_body", "The request body must be a JSON object.")
    name = location[-1] if not location[-1].isdigit() else location[0]
    # pydantic's messages ("Input should be ...") are clear; say which field they are about.
    message = error["msg"] if error["msg"].endswith(".") else f"{error['msg']}."  # ours end in one already
    return envelope(422, f"invalid_{name}", f"{field}: {message}", field)


_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class DuplicateKey(ValueError):
    """One JSON object names the same key twice."""


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise DuplicateKey("a key appears twice in one object")
    return dict(pairs)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _json_problem(body: bytes) -> str | None:
    """Why ``body`` is not one unambiguous JSON document, or None if it is."""
    try:
        json.loads(body, object_pairs_hook=_refuse_duplicate_keys, parse_constant=_refuse_constant)
    except DuplicateKey:
        return "The request body has the same key twice in one object; send each key once."
    except (ValueError, RecursionError):  # JSONDecodeError, UnicodeDecodeError, nesting too deep
        return "The request body is not valid JSON."
    return None


def _is_json(content_type: str | None) -> bool:
    """Whether FastAPI would read the body as JSON (no content type, or application/json or +json)."""
    if content_type is None:
        return True
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (media_type.startswith("application/")
                                                 and media_type.endswith("+json"))


class StrictJsonBodies:
    """Refuses a JSON body that is malformed, too deeply nested or ambiguous (a key twice) with
    400 ``invalid_json`` before any route reads it: a reader that kept the first of two
    ``"amount"`` keys would see another purchase than the one made."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or scope["method"] not in _BODY_METHODS
                or not _is_json(Headers(scope=scope).get("content-type"))):
            await self.app(scope, receive, send)
            return
        body = b""
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                await self.app(scope, _replaying(message, receive), send)
                return
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        problem = _json_problem(body) if body else None
        if problem is not None:
            await envelope(400, "invalid_json", problem)(scope, receive, send)
            return
        await self.app(scope, _replaying({"type": "http.request", "body": body, "more_body": False}, receive), send)


def _replaying(first: Message, receive: Receive) -> Receive:
    """A ``receive`` that hands ``first`` over once, then is the real one (which reports a disconnect)."""
    pending = [first]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def _service_error(_: Request, exc: ServiceError) -> JSONResponse:
        return envelope(exc.status, exc.code, exc.message, exc.field, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        return _validation_error(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        message = {404: "There is nothing at this address.",
                   405: "This address does not take that method."}.get(exc.status_code, str(exc.detail))
        return envelope(exc.status_code, code, message, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return envelope(500, "internal_error", "Something went wrong on the server. Nothing was changed; "
                                               "try again, and tell support if it keeps happening.")
