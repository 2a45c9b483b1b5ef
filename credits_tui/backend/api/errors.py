"""Every failure becomes the error envelope, once, here. Nothing else reaches a client."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

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
    return envelope(422, f"invalid_{name}", f"{field}: {error['msg']}.", field)


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
