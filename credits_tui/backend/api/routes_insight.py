"""Where the credits go (daily usage) and receipts: DESIGN.md §8–§9."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from credits_tui.api_client.models import DailyUsage, ErrorEnvelope, Receipt
from credits_tui.backend.api.deps import Viewer
from credits_tui.backend.api.routes import Filters
from credits_tui.backend.services.receipts import ReceiptService
from credits_tui.backend.services.usage_daily import UsageService

router = APIRouter(responses={status: {"model": ErrorEnvelope} for status in (401, 403, 404, 422)})


# The services hold only the app's database and settings: building them per request is free.
def usage_service(request: Request) -> UsageService:
    return UsageService(request.app.state.database, request.app.state.settings)


def receipt_service(request: Request) -> ReceiptService:
    return ReceiptService(request.app.state.database, request.app.state.settings)


@router.get("/credits/usage/daily", response_model=DailyUsage, tags=["credits"])
def daily_usage(principal: Viewer, filters: Filters,
                usage: Annotated[UsageService, Depends(usage_service)]) -> Response:
    return Response(usage.daily_json(principal.account_id, filters), media_type="application/json")


# ``:int`` keeps "12.pdf" from matching the JSON route; the PDF route is declared first anyway.
@router.get("/billing/receipts/{transaction_id:int}.pdf", tags=["billing"], response_class=Response,
            responses={200: {"content": {"application/pdf": {}}}})
def receipt_pdf(transaction_id: int, principal: Viewer,
                receipts: Annotated[ReceiptService, Depends(receipt_service)]) -> Response:
    receipt, pdf = receipts.pdf(principal.account_id, transaction_id)
    return Response(pdf, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="receipt-{receipt.number}.pdf"'})


@router.get("/billing/receipts/{transaction_id:int}", response_model=Receipt, tags=["billing"])
def receipt(transaction_id: int, principal: Viewer,
            receipts: Annotated[ReceiptService, Depends(receipt_service)]) -> Receipt:
    return receipts.receipt(principal.account_id, transaction_id)
