"""The HTTP API of DESIGN.md §3. Handlers are thin: parse, call one service, shape a reply."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Response
from fastapi.responses import StreamingResponse
from sqlalchemy import Row

from credits_tui.api_client.models import (
    AccountStatus,
    AuditOutcome,
    CardInput,
    CardPatch,
    CardSummary,
    ErrorEnvelope,
    InvoiceList,
    IsoDateTime,
    Me,
    PriceCatalog,
    PurchaseRequest,
    PurchaseResult,
    TokenRequest,
    TokenResponse,
    TransactionPage,
    TransactionSummary,
    TransactionType,
    UsageRequest,
    UsageResult,
    UserList,
)
from credits_tui.backend.api.deps import (
    Admin,
    ClientAddress,
    PrincipalDep,
    ServicesDep,
    UsageRecorder,
    Viewer,
)
from credits_tui.backend.api.routes_audit import audit_log
from credits_tui.backend.errors import ServiceError
from credits_tui.backend.services.audit import AuditLog, Origin
from credits_tui.backend.services.transactions import TransactionFilter, csv_lines

router = APIRouter(responses={
    status: {"model": ErrorEnvelope} for status in (400, 401, 402, 403, 404, 409, 422, 429)
})


# --- auth ---------------------------------------------------------------------------------


@router.post("/auth/tokens", status_code=201, response_model=TokenResponse, tags=["auth"])
def create_token(body: TokenRequest, client: ClientAddress, svc: ServicesDep) -> TokenResponse:
    return svc.auth.sign_in(body.email, body.password, client)


@router.delete("/auth/tokens/current", status_code=204, tags=["auth"])
def revoke_token(principal: PrincipalDep, client: ClientAddress, svc: ServicesDep) -> Response:
    svc.auth.revoke(principal, client)
    return Response(status_code=204)


@router.get("/me", response_model=Me, tags=["auth"])
def get_me(principal: PrincipalDep, svc: ServicesDep) -> Me:
    return svc.auth.me(principal)


# --- account ------------------------------------------------------------------------------


@router.get("/account/status", response_model=AccountStatus, tags=["account"])
def account_status(principal: Viewer, svc: ServicesDep) -> AccountStatus:
    return svc.accounts.status(principal.account_id)


@router.get("/account/users", response_model=UserList, tags=["account"])
def account_users(principal: Viewer, svc: ServicesDep) -> UserList:
    return svc.accounts.users(principal.account_id)


# --- billing ------------------------------------------------------------------------------


@router.get("/billing/card", response_model=CardSummary, tags=["billing"])
def get_card(principal: Viewer, svc: ServicesDep) -> CardSummary:
    return svc.billing.get_card(principal.account_id)


@router.put("/billing/card", response_model=CardSummary, tags=["billing"])
def put_card(body: CardInput, principal: Admin, client: ClientAddress, svc: ServicesDep) -> CardSummary:
    return svc.billing.put_card(Origin.of(principal, client), body)


@router.patch("/billing/card", response_model=CardSummary, tags=["billing"])
def patch_card(body: CardPatch, principal: Admin, client: ClientAddress, svc: ServicesDep) -> CardSummary:
    return svc.billing.patch_card(Origin.of(principal, client), body)


@router.delete("/billing/card", status_code=204, tags=["billing"])
def delete_card(principal: Admin, client: ClientAddress, svc: ServicesDep) -> Response:
    svc.billing.refuse_removal(Origin.of(principal, client))
    return Response(status_code=204)  # never reached: removal always needs accounting


@router.get("/billing/invoices", response_model=InvoiceList, tags=["billing"])
def invoices(principal: Viewer, svc: ServicesDep) -> InvoiceList:
    return svc.billing.invoices(principal.account_id)


# --- credits ------------------------------------------------------------------------------


@router.get("/credits/prices", response_model=PriceCatalog, tags=["credits"])
def prices(principal: PrincipalDep, svc: ServicesDep) -> PriceCatalog:
    return svc.credits.prices()


@router.post("/credits/purchases", status_code=201, response_model=PurchaseResult, tags=["credits"])
def purchase(
    body: PurchaseRequest,
    principal: Admin,
    client: ClientAddress,
    svc: ServicesDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Response:
    outcome = svc.credits.purchase(principal, body.amount, idempotency_key, client)
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else {}
    return Response(outcome.body, status_code=outcome.status, media_type="application/json", headers=headers)


@router.post("/credits/usage", status_code=201, response_model=UsageResult, tags=["credits"])
def usage(body: UsageRequest, principal: UsageRecorder, svc: ServicesDep) -> UsageResult:
    return svc.credits.record_usage(principal, body)


_Q_DESCRIPTION = ("words to find, each the start of a word of the row (its user, types, description and "
                  "reference), in any case and with or without accents")


def transaction_filter(
    since: Annotated[IsoDateTime | None, Query(description="ISO 8601; without a zone, UTC")] = None,
    until: Annotated[IsoDateTime | None, Query(description="exclusive end, ISO 8601")] = None,
    transaction_type: Annotated[list[TransactionType], Query(max_length=6)] = [],  # noqa: B006
    process_type: Annotated[list[Annotated[str, Query(max_length=64)]], Query(max_length=20)] = [],  # noqa: B006
    user: Annotated[str | None, Query(min_length=1, max_length=254, description="user id or email")] = None,
    q: Annotated[str | None, Query(min_length=1, max_length=200, description=_Q_DESCRIPTION)] = None,
) -> TransactionFilter:
    return TransactionFilter(since=since, until=until, transaction_types=tuple(transaction_type),
                             process_types=tuple(process_type), user=user, q=q)


Filters = Annotated[TransactionFilter, Depends(transaction_filter)]


@router.get("/credits/transactions", response_model=TransactionPage, tags=["transactions"])
def transactions(
    principal: Viewer,
    svc: ServicesDep,
    filters: Filters,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> TransactionPage:
    return svc.transactions.page(principal.account_id, filters, limit=limit, cursor=cursor)


@router.get("/credits/transactions/summary", response_model=TransactionSummary, tags=["transactions"])
def transactions_summary(principal: Viewer, svc: ServicesDep, filters: Filters) -> TransactionSummary:
    return svc.transactions.summary(principal.account_id, filters)


@router.get("/credits/transactions.csv", tags=["transactions"],
            response_class=StreamingResponse, responses={200: {"content": {"text/csv": {}}}})
def transactions_csv(principal: Viewer, client: ClientAddress, svc: ServicesDep, filters: Filters,
                     log: Annotated[AuditLog, Depends(audit_log)]) -> StreamingResponse:
    rows = svc.transactions.iterate(principal.account_id, filters)
    try:
        first = next(rows, None)  # resolve the filters now, so a bad one is a 4xx, not a broken stream
    except ServiceError as refused:
        log.export_csv(Origin.of(principal, client), filters, AuditOutcome.failure, refused.code)
        raise
    log.export_csv(Origin.of(principal, client), filters, AuditOutcome.success)  # before the first byte

    def with_first() -> Iterator[Row[Any]]:
        if first is not None:
            yield first
        yield from rows

    return StreamingResponse(csv_lines(with_first()), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": 'attachment; filename="transactions.csv"'})
