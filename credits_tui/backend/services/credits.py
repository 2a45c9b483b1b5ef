"""Buying credits (exactly once per Idempotency-Key) and recording usage."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from credits_tui.api_client.models import (
    BillingMode,
    ErrorDetail,
    ErrorEnvelope,
    PriceCatalog,
    Purchase,
    PurchaseResult,
    TransactionType,
    UsageRequest,
    UsageResult,
    cents_to_decimal,
    decimal_to_cents,
    format_money,
)
from credits_tui.backend.config import Settings
from credits_tui.backend.db.engine import Database, lock_account
from credits_tui.backend.db.schema import IdempotencyKey, QuotaUsage, User
from credits_tui.backend.db.schema import Purchase as PurchaseRow
from credits_tui.backend.errors import (
    BadRequest,
    Conflict,
    PaymentGatewayError,
    PaymentRequired,
    Unprocessable,
)
from credits_tui.backend.services import ledger
from credits_tui.backend.services.accounts import month_period
from credits_tui.backend.services.auth import Principal
from credits_tui.backend.services.billing import card_on_file
from credits_tui.backend.services.payments import ChargeDeclined, GatewayUnavailable, PaymentGateway
from credits_tui.backend.services.transactions import transaction_model


@dataclass(frozen=True)
class StoredResponse:
    """A purchase outcome as sent, so that a replay is byte-for-byte the same."""

    status: int
    body: str
    replayed: bool


def _valid_idempotency_key(key: str | None) -> str:
    if key is None or not key.strip():
        raise BadRequest("idempotency_key_required",
                         "Send an Idempotency-Key header (a unique value per purchase) to buy credits.")
    if len(key) > 255 or not key.isascii() or not key.isprintable():
        raise BadRequest("invalid_idempotency_key",
                         "The Idempotency-Key must be 1 to 255 printable ASCII characters.")
    return key


class CreditsService:
    def __init__(self, database: Database, settings: Settings, gateway: PaymentGateway) -> None:
        self.db = database
        self.settings = settings
        self.gateway = gateway

    def prices(self) -> PriceCatalog:
        return PriceCatalog(items=list(self.settings.prices))

    # --- purchases ----------------------------------------------------------------------

    def purchase(self, principal: Principal, amount: Decimal, idempotency_key: str | None) -> StoredResponse:
        """Charge the card on file and add credits, at most once per key.

        The key is claimed in its own short transaction, the card is charged with no lock
        held, and the credits are recorded together with the key's final response. A retry
        with the same key and body gets that response again; a retry after a worker died
        mid-way takes the stale claim over, and the gateway (idempotent on the same key)
        does not charge twice.
        """
        key = _valid_idempotency_key(idempotency_key)
        if amount > self.settings.max_purchase:
            raise Unprocessable("amount_above_maximum",
                                f"The maximum purchase is {format_money(self.settings.max_purchase)} credits.",
                                "amount")
        request_hash = hashlib.sha256(f"purchase:{format_money(amount)}".encode()).hexdigest()
        stored = self._claim_key(principal.account_id, key, request_hash)
        if stored is not None:
            return stored
        try:
            with self.db.read() as session:
                card = card_on_file(session, principal.account_id)
            if card is None:
                raise PaymentRequired("card_required",
                                      "Add a credit card on the Billing screen before buying credits.")
            amount_cents = decimal_to_cents(amount)
            gateway_key = f"purchase:{principal.account_id}:{key}"
            try:
                charge = self.gateway.charge(card.gateway_token, amount_cents, idempotency_key=gateway_key)
            except ChargeDeclined as declined:
                return self._finish_key(principal.account_id, key, 402, ErrorEnvelope(error=ErrorDetail(
                    code="card_declined", message=f"{declined.message} No credits were added.")).model_dump_json())
            except GatewayUnavailable:
                raise PaymentGatewayError(
                    "payment_processing_error",
                    "The payment processor could not be reached. Nothing was charged; try again.")
            return self._record_purchase(principal, key, amount_cents, card.last4, charge.id)
        except BaseException:
            self._release_key(principal.account_id, key)
            raise

    def _claim_key(self, account_id: int, key: str, request_hash: str) -> StoredResponse | None:
        now = ledger.utc_now()
        try:
            with self.db.write() as session:
                existing = session.execute(
                    select(IdempotencyKey).where(IdempotencyKey.account_id == account_id,
                                                 IdempotencyKey.key == key).with_for_update()
                ).scalar_one_or_none()
                if existing is None:
                    session.add(IdempotencyKey(account_id=account_id, key=key, request_hash=request_hash,
                                               state="in_progress", created_at=now))
                    return None
                if existing.request_hash != request_hash:
                    raise Unprocessable("idempotency_key_reuse",
                                        "This Idempotency-Key was already used for a different purchase. "
                                        "Use a new key for a new purchase.")
                if existing.state == "done":
                    return StoredResponse(existing.response_status or 200, existing.response_body or "", True)
                if now - existing.created_at < self.settings.idempotency_stale_after:
                    raise Conflict("idempotency_in_progress",
                                   "A purchase with this Idempotency-Key is still being processed. "
                                   "Wait a moment and retry with the same key.")
                existing.created_at = now  # the first attempt died: this one takes over
                return None
        except IntegrityError:
            # Another worker inserted the same key between our read and our insert.
            raise Conflict("idempotency_in_progress",
                           "A purchase with this Idempotency-Key is still being processed. "
                           "Wait a moment and retry with the same key.")

    def _release_key(self, account_id: int, key: str) -> None:
        """Forget an unfinished claim, so the purchase can be tried again with the same key."""
        with self.db.write() as session:
            session.execute(delete(IdempotencyKey).where(
                IdempotencyKey.account_id == account_id, IdempotencyKey.key == key,
                IdempotencyKey.state == "in_progress"))

    def _finish_key(self, account_id: int, key: str, status: int, body: str) -> StoredResponse:
        with self.db.write() as session:
            self._store_response(session, account_id, key, status, body)
        return StoredResponse(status, body, False)

    @staticmethod
    def _store_response(session, account_id: int, key: str, status: int, body: str) -> None:
        row = session.execute(select(IdempotencyKey).where(
            IdempotencyKey.account_id == account_id, IdempotencyKey.key == key)).scalar_one()
        row.state, row.response_status, row.response_body = "done", status, body

    def _record_purchase(self, principal: Principal, key: str, amount_cents: int, last4: str,
                         charge_id: str) -> StoredResponse:
        with self.db.write() as session:
            account = lock_account(session, principal.account_id)
            user = session.get_one(User, principal.user_id)
            row = ledger.append(
                session, account, transaction_type=TransactionType.purchase, amount_cents=amount_cents,
                user=user, description=f"Purchase of {format_money(cents_to_decimal(amount_cents))} credits",
                reference=charge_id,
            )
            purchase = PurchaseRow(account_id=account.id, user_id=user.id, amount_cents=amount_cents,
                                   charged_cents=amount_cents, card_last4=last4, gateway_charge_id=charge_id,
                                   transaction_id=row.id, created_at=row.created_at)
            session.add(purchase)
            session.flush()
            body = PurchaseResult(
                purchase=Purchase(id=purchase.id, amount=cents_to_decimal(amount_cents),
                                  charged_usd=cents_to_decimal(amount_cents), card_last4=last4,
                                  created_at=purchase.created_at),
                transaction=transaction_model(row, user),
                purchase_credits=cents_to_decimal(account.balance_cents),
            ).model_dump_json()
            self._store_response(session, account.id, key, 201, body)
        return StoredResponse(201, body, False)

    # --- usage --------------------------------------------------------------------------

    def record_usage(self, principal: Principal, request: UsageRequest) -> UsageResult:
        price = self.settings.price_of(request.process_type)
        if price is None:
            raise Unprocessable("unknown_process_type",
                                f"Unknown process type {request.process_type!r}; see GET /credits/prices.",
                                "process_type")
        now = ledger.utc_now()
        with self.db.write() as session:
            account = lock_account(session, principal.account_id)
            period = month_period(now)
            quota = session.get(QuotaUsage, (account.id, price.process_type, period))
            if quota is None:
                quota = QuotaUsage(account_id=account.id, process_type=price.process_type, period=period, used=0)
                session.add(quota)
            free = min(request.quantity, max(0, price.free_quota - quota.used))
            charged = request.quantity - free
            amount_cents = charged * decimal_to_cents(price.unit_price)
            quota.used += request.quantity
            row = None
            if amount_cents:
                if price.billing is BillingMode.invoice:
                    if card_on_file(session, account.id) is None:
                        raise PaymentRequired(
                            "card_required",
                            f"{price.label} is invoiced monthly: add a credit card on file to use it.")
                elif account.balance_cents < amount_cents:
                    raise PaymentRequired(
                        "insufficient_credits",
                        f"This needs {format_money(cents_to_decimal(amount_cents))} credits but the balance is "
                        f"{format_money(cents_to_decimal(account.balance_cents))}. Buy credits and try again.")
                user = session.get_one(User, principal.user_id)
                row = ledger.append(
                    session, account, transaction_type=TransactionType.usage, amount_cents=-amount_cents,
                    user=user, process_type=price.process_type, process_label=price.label,
                    quantity=charged,
                    description=f"{price.label} × {charged}" + (f" ({free} free)" if free else ""),
                    reference=request.reference, at=now,
                )
                transaction = transaction_model(row, user)
            return UsageResult(
                process_type=price.process_type, quantity=request.quantity, free_quantity=free,
                charged_quantity=charged, amount=cents_to_decimal(amount_cents),
                transaction=transaction if row is not None else None,
                purchase_credits=cents_to_decimal(account.balance_cents),
            )
