"""The audit log of DESIGN.md §8: ``GET /account/audit``, for admins only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from credits_tui.api_client.models import AuditAction, AuditPage, ErrorEnvelope, IsoDateTime
from credits_tui.backend.api.deps import Admin
from credits_tui.backend.services.audit import AuditFilter, AuditLog

router = APIRouter(responses={status: {"model": ErrorEnvelope} for status in (400, 401, 403, 422)})


def audit_log(request: Request) -> AuditLog:
    """Holds only the app's database: building it per request is free."""
    return AuditLog(request.app.state.database)


@router.get("/account/audit", response_model=AuditPage, tags=["account"])
def account_audit(
    principal: Admin,
    log: Annotated[AuditLog, Depends(audit_log)],
    since: Annotated[IsoDateTime | None, Query(description="ISO 8601; without a zone, UTC")] = None,
    until: Annotated[IsoDateTime | None, Query(description="exclusive end, ISO 8601")] = None,
    action: Annotated[list[AuditAction], Query(max_length=len(AuditAction))] = [],  # noqa: B006
    actor: Annotated[str | None, Query(min_length=1, max_length=254, description="user id or email")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> AuditPage:
    """The account's audit rows, newest first. Failed sign-ins with an email that is no user's
    belong to no account and are listed to nobody."""
    filters = AuditFilter(since=since, until=until, actions=tuple(action), actor=actor)
    return log.page(principal.account_id, filters, limit=limit, cursor=cursor)
