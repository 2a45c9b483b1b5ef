"""Buying credits (exactly once per Idempotency-Key) and recording usage."""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Insert, Row, bindparam, delete, select, update
from sqlalchemy.orm import Session

from credits_tui.api_client.models import (
    AuditAction,
    AuditOutcome,
    BillingMode,
    ErrorDetail,
    ErrorEnvelope,
    PriceCatalog,
    Purchase,
    PurchaseResult,
    TransactionType,
    UsageRequest,
    UsageResult,
    UserRef,
    cents_to_decimal,
    decimal_to_cents,
    format_money,
)
from credits_tui.backend.config import Settings
from credits_tui.backend.db.engine import Database, insert_unless_taken, lock_account
from credits_tui.backend.db.schema import Card, IdempotencyKey, QuotaUsage, User, table_of
from credits_tui.backend.db.schema import Purchase as PurchaseRow
from credits_tui.backend.errors import (
    BadRequest,
    Conflict,
    PaymentGatewayError,
    PaymentRequired,
    ServiceError,
    Unprocessable,
)
from credits_tui.backend.services import audit, ledger, notifications
from credits_tui.backend.services.accounts import month_period
from credits_tui.backend.services.auth import Principal
from credits_tui.backend.services.auto_recharge import AutoRechargeService, Claim, claim_after_debit
from credits_tui.backend.services.billing import card_on_file
from credits_tui.backend.services.payments import ChargeDeclined, GatewayUnavailable, PaymentGateway
from credits_tui.backend.services.transactions import transaction_model

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredResponse:
    """A purchase outcome as sent, so that a replay is byte-for-byte the same."""

    status: int
    body: str
    replayed: bool


@dataclass(frozen=True)
class _Attempt:
    """One attempt at a purchase key; ``leased_at`` tells its claim from a later takeover's."""

    account_id: int
    key: str
    request_hash: str
    leased_at: datetime
    ip: str  # of the caller, for the audit row


@dataclass(frozen=True)
class _Card:
    """What a purchase needs of the card on file."""

    token: str
    last4: str
    brand: str


_keys = table_of(IdempotencyKey)
_cards = table_of(Card)
_purchases = table_of(PurchaseRow)
# The purchase path's statements, built once: a statement made per call costs more to build
# and to key for the compiled cache than it does to run.
_KEY_ROW = (
    select(_keys.c.id, _keys.c.request_hash, _keys.c.state, _keys.c.response_status, _keys.c.response_body,
           _keys.c.created_at)
    .where(_keys.c.account_id == bindparam("account"), _keys.c.key == bindparam("key")).with_for_update()
)
_TAKE_OVER = update(_keys).where(_keys.c.id == bindparam("key_id")).values(created_at=bindparam("at"))
_SETTLE = (update(_keys).where(_keys.c.id == bindparam("key_id"))
           .values(state="done", response_status=bindparam("status"), response_body=bindparam("body")))
_CARD = (select(_cards.c.gateway_token, _cards.c.last4, _cards.c.brand)
         .where(_cards.c.account_id == bindparam("account")))
_INSERT_PURCHASE = _purchases.insert().returning(_purchases.c.id)
_KeyRow = Row[int, str, str, int | None, str | None, datetime]


@functools.cache
def _claim(dialect: str) -> Insert:
    return insert_unless_taken(dialect, _keys, "account_id", "key").returning(_keys.c.id)


def _stored(row: _KeyRow) -> StoredResponse:
    return StoredResponse(row.response_status or 200, row.response_body or "", True)


def _key_row(session: Session, account_id: int, key: str) -> _KeyRow | None:
    """The key's row, locked until the unit of work ends."""
    return session.execute(_KEY_ROW, {"account": account_id, "key": key}).first()


def _in_progress() -> Conflict:
    return Conflict("idempotency_in_progress",
                    "A purchase with this Idempotency-Key is still being processed. "
                    "Wait a moment and retry with the same key.")


def _valid_idempotency_key(key: str | None) -> str:
    if key is None or not key.strip():
        raise BadRequest("idempotency_key_required",
                         "Send an Idempotency-Key header (a unique value per purchase) to buy credits.")
    if len(key) > 255 or not key.isascii() or not key.isprintable():
        raise BadRequest("invalid_idempotency_key",
                         "The Idempotency-Key must be 1 to 255 printable ASCII characters.")
    return key


def _audit_purchase(session: Session, principal: Principal, attempt: _Attempt, outcome: AuditOutcome,
                    detail: audit.Detail, target: str | None = None) -> None:
    audit.record(session, account_id=principal.account_id, actor=principal.user_id,
                 action=AuditAction.purchase_create, target=target, ip=attempt.ip, outcome=outcome, detail=detail)


class CreditsService:
    def __init__(self, database: Database, settings: Settings, gateway: PaymentGateway) -> None:
        self.db = database
        self.settings = settings
        self.gateway = gateway
        self.auto_recharge = AutoRechargeService(database, settings, gateway)

    def prices(self) -> PriceCatalog:
        return PriceCatalog(items=list(self.settings.prices))

    # --- purchases ----------------------------------------------------------------------

    def purchase(self, principal: Principal, amount: Decimal, idempotency_key: str | None,
                 ip: str) -> StoredResponse:
        """``_purchase``, and one audit row for a purchase refused before or after the charge was
        tried (a decline and a success are recorded with the key's outcome). A replay of a
        settled key, or a retry while its first attempt runs, is that same purchase: no new row.
        """
        try:
            return self._purchase(principal, amount, idempotency_key, ip)
        except ServiceError as refused:
            if refused.code != "idempotency_in_progress":
                audit.record_apart(
                    self.db, account_id=principal.account_id, actor=principal.user_id,
                    action=AuditAction.purchase_create, target=None, ip=ip,
                    outcome=AuditOutcome.failure if refused.status >= 500 else AuditOutcome.refused,
                    detail={"amount": format_money(amount), "code": refused.code})
            raise

    def _purchase(self, principal: Principal, amount: Decimal, idempotency_key: str | None,
                  ip: str) -> StoredResponse:
        """Charge the card on file and add credits, at most once per key.

        The key is claimed in its own short transaction with a lease of a few seconds, the
        card is charged with no lock held, and the credits are recorded together with the
        key's final response. A retry with the same key and body gets that response again; a
        retry after the lease ran out (the worker died) takes the claim over. The gateway
        charge carries the purchase's key, so a takeover gets the first charge back instead
        of charging again, and whichever attempt records first settles the key: the other
        finds it done and answers with its response.
        """
        key = _valid_idempotency_key(idempotency_key)
        if amount > self.settings.max_purchase:
            raise Unprocessable("amount_above_maximum",
                                f"The maximum purchase is {format_money(self.settings.max_purchase)} credits.",
                                "amount")
        request_hash = hashlib.sha256(f"purchase:{format_money(amount)}".encode()).hexdigest()
        claim = self._claim_key(principal.account_id, key, request_hash)
        if isinstance(claim, StoredResponse):
            return claim
        leased_at, card = claim
        attempt = _Attempt(principal.account_id, key, request_hash, leased_at=leased_at, ip=ip)
        try:
            amount_cents = decimal_to_cents(amount)
            gateway_key = f"purchase:{principal.account_id}:{key}"
            try:
                charge = self.gateway.charge(card.token, amount_cents, idempotency_key=gateway_key)
            except ChargeDeclined as declined:
                facts: audit.Detail = {"amount": format_money(amount), "last4": card.last4, "brand": card.brand,
                                       "code": declined.code}
                return self._finish_key(attempt, 402, ErrorEnvelope(error=ErrorDetail(
                    code="card_declined", message=f"{declined.message} No credits were added.")).model_dump_json(),
                    lambda session: _audit_purchase(session, principal, attempt, AuditOutcome.declined, facts))
            except GatewayUnavailable as unavailable:
                raise PaymentGatewayError(
                    "payment_processing_error",
                    "The payment processor could not be reached. Nothing was charged; try again.") from unavailable
            return self._record_purchase(principal, attempt, amount_cents, card.last4, charge.id)
        except BaseException:
            self._release_key(attempt)
            raise

    def _claim_key(self, account_id: int, key: str, request_hash: str) -> StoredResponse | tuple[datetime, _Card]:
        """The stored response for a settled key, or the time of this attempt's lease on it and
        the card to charge (no card: 402, and no claim is left behind)."""
        now = ledger.utc_now()
        # Not fsynced (see Database.write): a claim lost in a power cut goes together with
        # everything written after it, the purchase's charge record and ledger row included,
        # so the client, which got no answer, retries as if the claim had never been taken.
        # The ledger commit that answers 201 is durable, and its fsync makes this claim
        # durable too.
        with self.db.write(durable=False) as session:
            # A new key (the usual case) is claimed by this one statement; a key another
            # attempt inserted concurrently is waited for (PostgreSQL) and then read.
            claimed = session.execute(_claim(self.db.dialect), {
                "account_id": account_id, "key": key, "request_hash": request_hash, "state": "in_progress",
                "created_at": now,
            }).first()
            if claimed is None:
                existing = _key_row(session, account_id, key)
                if existing is None:  # released meanwhile by the attempt that held it
                    raise _in_progress()
                if existing.request_hash != request_hash:
                    raise Unprocessable("idempotency_key_reuse",
                                        "This Idempotency-Key was already used for a different purchase. "
                                        "Use a new key for a new purchase.")
                if existing.state == "done":
                    return _stored(existing)
                if now - existing.created_at < self.settings.idempotency_stale_after:
                    raise _in_progress()
                # The lease ran out (its worker died): this attempt takes over.
                session.execute(_TAKE_OVER, {"key_id": existing.id, "at": now})
            card = session.execute(_CARD, {"account": account_id}).first()
            if card is None:  # raised inside: the claim rolls back with it
                raise PaymentRequired("card_required",
                                      "Add a credit card on the Billing screen before buying credits.")
            return now, _Card(*card)

    def _release_key(self, attempt: _Attempt) -> None:
        """Forget this attempt's unfinished claim, so the purchase can be tried again with the same key.

        A claim taken over by another attempt has another lease time and is left to it.
        """
        with self.db.write() as session:
            session.execute(delete(_keys).where(
                _keys.c.account_id == attempt.account_id, _keys.c.key == attempt.key,
                _keys.c.state == "in_progress", _keys.c.created_at == attempt.leased_at))

    def _finish_key(self, attempt: _Attempt, status: int, body: str,
                    audit_row: Callable[[Session], None]) -> StoredResponse:
        """Settle the key with this response, and write its audit row, unless another attempt
        settled it first."""
        with self.db.write() as session:
            key = _key_row(session, attempt.account_id, attempt.key)
            if key is not None and key.state == "done":
                return _stored(key)
            self._store_response(session, attempt, key, status, body)
            audit_row(session)
        return StoredResponse(status, body, False)

    @staticmethod
    def _store_response(session: Session, attempt: _Attempt, row: _KeyRow | None, status: int,
                        body: str) -> None:
        if row is None:  # a later attempt claimed the key, failed and released it
            session.execute(_keys.insert().values(
                account_id=attempt.account_id, key=attempt.key, request_hash=attempt.request_hash,
                created_at=attempt.leased_at, state="done", response_status=status, response_body=body))
        else:
            session.execute(_SETTLE, {"key_id": row.id, "status": status, "body": body})

    def _record_purchase(self, principal: Principal, attempt: _Attempt, amount_cents: int, last4: str,
                         charge_id: str) -> StoredResponse:
        money = format_money(cents_to_decimal(amount_cents))
        buyer = UserRef(id=principal.user_id, name=principal.name, email=principal.email)
        with self.db.write() as session:
            # The key first: the account's row is then locked (by its update) only when there
            # are credits to add, and every purchase path takes the two in this order.
            key = _key_row(session, attempt.account_id, attempt.key)
            if key is not None and key.state == "done":
                return _stored(key)  # another attempt recorded this same charge
            row, account = ledger.post(
                session, principal.account_id, transaction_type=TransactionType.purchase,
                amount_cents=amount_cents, user=buyer, description=f"Purchase of {money} credits",
                reference=charge_id,
            )
            purchase_id: int = session.execute(_INSERT_PURCHASE, {
                "account_id": account.id, "user_id": buyer.id, "amount_cents": amount_cents,
                "charged_cents": amount_cents, "card_last4": last4, "gateway_charge_id": charge_id,
                "transaction_id": row.id, "created_at": row.created_at,
            }).scalar_one()
            notifications.purchase_receipt(session, account, amount_cents=amount_cents, charge_id=charge_id,
                                           card_last4=last4, automatic=False)
            body = PurchaseResult(
                purchase=Purchase(id=purchase_id, amount=cents_to_decimal(amount_cents),
                                  charged_usd=cents_to_decimal(amount_cents), card_last4=last4,
                                  created_at=row.created_at),
                transaction=transaction_model(row, None).model_copy(update={"user": buyer}),
                purchase_credits=cents_to_decimal(account.balance_cents),
            ).model_dump_json()
            self._store_response(session, attempt, key, 201, body)
            _audit_purchase(session, principal, attempt, AuditOutcome.success,
                            {"amount": money, "last4": last4, "transaction_id": row.id},
                            target=f"transaction:{row.id}")
        return StoredResponse(201, body, False)

    # --- usage --------------------------------------------------------------------------

    def record_usage(self, principal: Principal, request: UsageRequest) -> UsageResult:
        """Record usage; a debit that leaves the balance below the auto-recharge threshold
        then recharges (after its own commit: a card is never charged inside a unit of work)."""
        result, claim = self._debit(principal, request)
        if claim is not None:
            try:
                self.auto_recharge.run(claim)
            except Exception:
                # The usage is recorded either way; the pending claim is taken over by a later debit.
                _log.exception("auto-recharge of account %s could not finish", claim.account_id)
        return result

    def _debit(self, principal: Principal, request: UsageRequest) -> tuple[UsageResult, Claim | None]:
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
            claim = None
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
                notifications.low_balance_crossed(session, account, account.balance_cents + amount_cents)
                claim = claim_after_debit(session, account, self.settings, row.id)
            return UsageResult(
                process_type=price.process_type, quantity=request.quantity, free_quantity=free,
                charged_quantity=charged, amount=cents_to_decimal(amount_cents),
                transaction=transaction if row is not None else None,
                purchase_credits=cents_to_decimal(account.balance_cents),
            ), claim
