"""The card on file: add or replace, edit, the refusal to remove, and its summary."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from credits_tui.api_client.models import (
    AuditAction,
    AuditOutcome,
    BillingAddress,
    CardInput,
    CardPatch,
    CardSummary,
    Invoice,
    InvoiceList,
    InvoiceStatus,
    cents_to_decimal,
)
from credits_tui.api_client.models import InvoiceLine as InvoiceLineModel
from credits_tui.backend.config import Settings
from credits_tui.backend.db.engine import Database
from credits_tui.backend.db.schema import Card
from credits_tui.backend.db.schema import Invoice as InvoiceRow
from credits_tui.backend.db.schema import InvoiceLine as InvoiceLineRow
from credits_tui.backend.errors import (
    Conflict,
    NotFound,
    PaymentGatewayError,
    PaymentRequired,
    ServiceError,
    Unprocessable,
)
from credits_tui.backend.services import audit
from credits_tui.backend.services.cards import check_expiry, clean_card_number
from credits_tui.backend.services.ledger import utc_now
from credits_tui.backend.services.payments import ChargeDeclined, GatewayUnavailable, PaymentGateway, TokenizedCard


def card_summary(card: Card) -> CardSummary:
    return CardSummary(
        brand=card.brand, last4=card.last4, exp_month=card.exp_month, exp_year=card.exp_year,
        cardholder_name=card.cardholder_name, updated_at=card.updated_at,
        billing_address=BillingAddress.model_construct(
            line1=card.address_line1, line2=card.address_line2, city=card.address_city,
            region=card.address_region, postal_code=card.address_postal_code,
            country=card.address_country,
        ),
    )


def _set_address(card: Card, address: BillingAddress) -> None:
    card.address_line1 = address.line1
    card.address_line2 = address.line2 or None
    card.address_city = address.city
    card.address_region = address.region or None
    card.address_postal_code = address.postal_code
    card.address_country = address.country.upper()


def card_on_file(session: Session, account_id: int) -> Card | None:
    return session.get(Card, account_id)


def require_card(session: Session, account_id: int, message: str) -> Card:
    """The card on file, or 409 ``card_required`` for a setting that charges it later."""
    card = card_on_file(session, account_id)
    if card is None:
        raise Conflict("card_required", message)
    return card


class BillingService:
    def __init__(self, database: Database, settings: Settings, gateway: PaymentGateway) -> None:
        self.db = database
        self.settings = settings
        self.gateway = gateway

    def get_card(self, account_id: int) -> CardSummary:
        with self.db.read() as session:
            card = card_on_file(session, account_id)
            if card is None:
                raise NotFound("no_card_on_file", "There is no card on file. Add a credit card to buy credits.")
            return card_summary(card)

    def put_card(self, origin: audit.Origin, card_input: CardInput) -> CardSummary:
        """Add or replace the card; a card refused on the way is recorded as such, and the card
        on file stays as it was."""
        tokenized = None
        try:
            now = utc_now()
            number = clean_card_number(card_input.number)
            check_expiry(card_input.exp_month, card_input.exp_year, now)
            tokenized = self.gateway.tokenize(number, card_input.exp_month, card_input.exp_year, card_input.cvc)
            self._verify(tokenized.token)
            return self._keep_card(origin, card_input, tokenized, now)
        except ServiceError as refused:
            with self.db.read() as session:
                replacing = card_on_file(session, origin.account_id) is not None
            # After tokenizing, only the gateway's zero authorization refuses a card with a 4xx.
            declined = tokenized is not None and refused.status < 500
            detail: audit.Detail = {"code": refused.code}
            if tokenized is not None:
                detail |= {"brand": tokenized.brand, "last4": tokenized.last4}
            audit.record_apart(self.db, account_id=origin.account_id, actor=origin.user_id,
                               action=AuditAction.card_replace if replacing else AuditAction.card_add,
                               target="card", ip=origin.ip,
                               outcome=AuditOutcome.declined if declined else AuditOutcome.failure, detail=detail)
            raise

    def _keep_card(self, origin: audit.Origin, card_input: CardInput, tokenized: TokenizedCard,
                   now: datetime) -> CardSummary:
        with self.db.write() as session:
            replaced = card_on_file(session, origin.account_id)
            detail: audit.Detail = {"brand": tokenized.brand, "last4": tokenized.last4}
            if replaced is not None:
                detail |= {"replaced_brand": replaced.brand, "replaced_last4": replaced.last4}
            card = replaced or Card(account_id=origin.account_id, created_at=now)
            card.gateway_token = tokenized.token
            card.brand = tokenized.brand
            card.last4 = tokenized.last4
            card.exp_month = card_input.exp_month
            card.exp_year = card_input.exp_year
            card.cardholder_name = card_input.cardholder_name
            card.updated_at = now
            _set_address(card, card_input.billing_address)
            session.add(card)
            audit.record(session, account_id=origin.account_id, actor=origin.user_id,
                         action=AuditAction.card_replace if replaced else AuditAction.card_add, target="card",
                         ip=origin.ip, outcome=AuditOutcome.success, detail=detail)
            session.flush()
            return card_summary(card)

    def _verify(self, token: str) -> None:
        """A zero authorization before the card is kept: a card that cannot pay is refused at
        once, and the card on file stays as it was."""
        try:
            self.gateway.verify(token)
        except ChargeDeclined as declined:
            message = f"{declined.message} The card was not saved."
            if declined.code == "expired_card":
                raise Unprocessable(declined.code, message, "number") from declined
            raise PaymentRequired(declined.code, message) from declined
        except GatewayUnavailable as unavailable:
            raise PaymentGatewayError("processing_error", "The payment processor could not check the card. "
                                                          "The card was not saved; try again.") from unavailable

    def patch_card(self, origin: audit.Origin, patch: CardPatch) -> CardSummary:
        now = utc_now()
        # The names of the fields changed, never their values (an address is personal data).
        detail: audit.Detail = {"fields": ",".join(sorted(patch.model_dump(exclude_none=True)))}
        try:
            with self.db.write() as session:
                card = card_on_file(session, origin.account_id)
                if card is None:
                    raise NotFound("no_card_on_file", "There is no card on file to edit. Add a credit card first.")
                exp_month = patch.exp_month if patch.exp_month is not None else card.exp_month
                exp_year = patch.exp_year if patch.exp_year is not None else card.exp_year
                check_expiry(exp_month, exp_year, now)
                card.exp_month, card.exp_year = exp_month, exp_year
                if patch.cardholder_name is not None:
                    card.cardholder_name = patch.cardholder_name
                if patch.billing_address is not None:
                    _set_address(card, patch.billing_address)
                card.updated_at = now
                audit.record(session, account_id=origin.account_id, actor=origin.user_id,
                             action=AuditAction.card_edit, target="card", ip=origin.ip,
                             outcome=AuditOutcome.success, detail=detail | {"last4": card.last4})
                session.flush()
                return card_summary(card)
        except ServiceError as refused:
            audit.record_apart(self.db, account_id=origin.account_id, actor=origin.user_id,
                               action=AuditAction.card_edit, target="card", ip=origin.ip,
                               outcome=AuditOutcome.failure, detail=detail | {"code": refused.code})
            raise

    def refuse_removal(self, origin: audit.Origin) -> None:
        audit.record_apart(self.db, account_id=origin.account_id, actor=origin.user_id,
                           action=AuditAction.card_remove_refused, target="card", ip=origin.ip,
                           outcome=AuditOutcome.refused)
        raise Conflict(
            "card_removal_requires_accounting",
            "A card on file cannot be removed without replacing it. To remove it, contact "
            f"accounting at {self.settings.accounting_email}.",
        )

    def invoices(self, account_id: int) -> InvoiceList:
        with self.db.read() as session:
            invoices = session.scalars(
                select(InvoiceRow).where(InvoiceRow.account_id == account_id).order_by(InvoiceRow.period.desc())
            ).all()
            lines = session.scalars(
                select(InvoiceLineRow).where(InvoiceLineRow.invoice_id.in_([i.id for i in invoices]))
                .order_by(InvoiceLineRow.id)
            ).all()
        by_invoice: dict[int, list[InvoiceLineModel]] = {}
        for line in lines:
            by_invoice.setdefault(line.invoice_id, []).append(InvoiceLineModel(
                process_type=line.process_type, description=line.description, quantity=line.quantity,
                amount=cents_to_decimal(line.amount_cents)))
        return InvoiceList(items=[
            Invoice(id=i.id, period=i.period, amount=cents_to_decimal(i.amount_cents),
                    status=InvoiceStatus(i.status), card_last4=i.card_last4, failure_message=i.failure_message,
                    created_at=i.created_at, paid_at=i.paid_at, lines=by_invoice.get(i.id, []))
            for i in invoices
        ])
