"""The wire contract: every request and response body of the HTTP API (DESIGN.md §3).

This module is the one definition of the contract. The backend builds its responses from
these models and validates its requests with them; the client parses with them. It imports
neither Textual nor the backend.

Money is a ``Decimal`` in Python and a string with exactly two decimal places on the wire
(``"25.00"``, ``"-3.25"``). Floats are refused on the way in: a float has already lost the
exactness a money amount needs.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    field_validator,
)
from pydantic_core import PydanticCustomError

from credits_tui.api_client.card_rules import CARD_NUMBER_SEPARATORS, card_number_problem

CENT = Decimal("0.01")
MINIMUM_PURCHASE = Decimal("1.00")
MONEY_PATTERN = r"^-?[0-9]{1,13}(\.[0-9]{1,2})?$"
_MONEY_RE = re.compile(MONEY_PATTERN)
_TOO_PRECISE_RE = re.compile(r"^-?[0-9]{1,13}\.[0-9]{3,}$")


def parse_money(value: Any) -> Decimal:
    """Read a money amount from the wire or from a person, exactly, or refuse it.

    Accepted: a decimal string with at most two places (``"25"``, ``"25.5"``, ``"-3.25"``),
    an ``int``, or a finite ``Decimal`` with at most two places. Refused, each with its own
    error code: floats, exponent notation, NaN, infinities, a third decimal place.
    """
    if isinstance(value, bool):
        raise PydanticCustomError("invalid_amount", "Enter the amount as a number such as 25.00.")
    if isinstance(value, int):
        value = str(value)
    if isinstance(value, float):
        raise PydanticCustomError(
            "invalid_amount", 'Send the amount as a decimal string such as "25.00", not a float.'
        )
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise PydanticCustomError("invalid_amount", "The amount must be a finite number.")
        value = format(value, "f")
    if not isinstance(value, str):
        raise PydanticCustomError("invalid_amount", "Enter the amount as a number such as 25.00.")
    text = value.strip()
    if _TOO_PRECISE_RE.match(text):
        raise PydanticCustomError(
            "amount_precision", "Amounts go in steps of 0.01: use at most two decimal places."
        )
    if not _MONEY_RE.match(text):
        raise PydanticCustomError(
            "invalid_amount", "Enter the amount as a plain number such as 25.00."
        )
    try:
        return Decimal(text).quantize(CENT)
    except InvalidOperation as error:  # pragma: no cover - the pattern already excludes this
        raise PydanticCustomError("invalid_amount", "Enter the amount as a plain number such as 25.00.") from error


def format_money(value: Decimal) -> str:
    return f"{value.quantize(CENT):.2f}"


def cents_to_decimal(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(CENT)


def decimal_to_cents(value: Decimal) -> int:
    return int((value * 100).to_integral_exact())


Money = Annotated[
    Decimal,
    BeforeValidator(parse_money),
    PlainSerializer(format_money, return_type=str),
    WithJsonSchema({"type": "string", "pattern": MONEY_PATTERN, "examples": ["25.00"]}),
]


def _at_least_minimum_purchase(value: Decimal) -> Decimal:
    if value < MINIMUM_PURCHASE:
        raise PydanticCustomError(
            "amount_below_minimum", "The minimum purchase is 1.00 credit."
        )
    return value


PurchaseAmount = Annotated[Money, AfterValidator(_at_least_minimum_purchase)]


def _iso_8601_only(value: Any) -> Any:
    """Refuse numbers as times: "until=6" is a typo, not 6 seconds after 1970."""
    if isinstance(value, (int, float)) or (isinstance(value, str) and value.strip().lstrip("-").isdigit()):
        raise PydanticCustomError("invalid_datetime",
                                  "Give a date or time in ISO 8601, such as 2026-10-01 or 2026-10-01T09:30:00Z.")
    return value


IsoDateTime = Annotated[datetime, BeforeValidator(_iso_8601_only)]
"""A point in time given as ISO 8601 (a date alone means its midnight); without a zone, UTC."""


class WireModel(BaseModel):
    """Base of every wire model: unknown fields are refused, strings are trimmed and may not
    hold a NUL character (PostgreSQL cannot store one; no name, address or email has one)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)

    @field_validator("*")
    @classmethod
    def _no_nul_characters(cls, value: Any) -> Any:
        if isinstance(value, str) and "\x00" in value:
            raise PydanticCustomError("string_has_nul", "Text may not contain a NUL character")
        return value


class ResponseModel(BaseModel):
    """Base of responses: tolerant of fields a newer server adds.

    Built on first use, not at import: a quick CLI command reads only one or two of them.
    """

    model_config = ConfigDict(extra="ignore", defer_build=True)


# --- enums ------------------------------------------------------------------------------


class Role(StrEnum):
    admin = "admin"
    support = "support"
    member = "member"
    service = "service"


class TransactionType(StrEnum):
    purchase = "purchase"
    usage = "usage"
    auto_recharge = "auto_recharge"
    invoice_payment = "invoice_payment"
    refund = "refund"
    adjustment = "adjustment"


class BillingMode(StrEnum):
    prepaid = "prepaid"
    invoice = "invoice"


class InvoiceStatus(StrEnum):
    paid = "paid"
    payment_failed = "payment_failed"


# --- errors -----------------------------------------------------------------------------


class ErrorDetail(ResponseModel):
    code: str
    message: str
    field: str | None = None


class ErrorEnvelope(ResponseModel):
    error: ErrorDetail


# --- identity ---------------------------------------------------------------------------


class AccountRef(ResponseModel):
    id: int
    name: str


class UserRef(ResponseModel):
    id: int
    name: str
    email: str


class AccountUser(UserRef):
    role: Role


class Me(AccountUser):
    account: AccountRef


class UserList(ResponseModel):
    items: list[AccountUser]


class TokenRequest(WireModel):
    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=1024)


class TokenResponse(ResponseModel):
    token: str
    token_type: Literal["bearer"] = "bearer"
    expires_at: datetime
    user: Me


# --- billing ----------------------------------------------------------------------------


class BillingAddress(WireModel):
    line1: str = Field(min_length=1, max_length=200)
    line2: str | None = Field(default=None, max_length=200)
    city: str = Field(min_length=1, max_length=100)
    region: str | None = Field(default=None, max_length=100)
    postal_code: str = Field(min_length=1, max_length=20)
    country: str = Field(min_length=2, max_length=2, pattern=r"^[A-Za-z]{2}$",
                         description="ISO 3166-1 alpha-2 country code")


class CardInput(WireModel):
    """A new card. The number and CVC go to the gateway and are never stored."""

    cardholder_name: str = Field(min_length=1, max_length=200)
    number: str = Field(max_length=40, description="12 to 19 digits; spaces and dashes allowed")
    exp_month: int = Field(ge=1, le=12)
    exp_year: int = Field(ge=2000, le=2100)
    cvc: str = Field(min_length=3, max_length=4, pattern=r"^[0-9]{3,4}$")
    billing_address: BillingAddress

    # A refused number or CVC must not be echoed in pydantic's error text either.
    model_config = ConfigDict(hide_input_in_errors=True)

    @field_validator("number")
    @classmethod
    def _a_card_number(cls, number: str) -> str:
        """The digits of a number that passes the card rules (length, Luhn), or the reason it does not."""
        if problem := card_number_problem(number):
            raise PydanticCustomError("invalid_card_number", problem)
        return CARD_NUMBER_SEPARATORS.sub("", number)

    def __repr__(self) -> str:  # never let a full number or CVC reach a log line
        return f"CardInput(cardholder_name={self.cardholder_name!r}, number='****', cvc='***')"

    __str__ = __repr__


class CardPatch(WireModel):
    """Edit the card on file without re-entering its number."""

    cardholder_name: str | None = Field(default=None, min_length=1, max_length=200)
    exp_month: int | None = Field(default=None, ge=1, le=12)
    exp_year: int | None = Field(default=None, ge=2000, le=2100)
    billing_address: BillingAddress | None = None


class CardSummary(ResponseModel):
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    cardholder_name: str
    billing_address: BillingAddress
    updated_at: datetime


class InvoiceLine(ResponseModel):
    process_type: str | None
    description: str
    quantity: int
    amount: Money


class Invoice(ResponseModel):
    id: int
    period: str = Field(description="the month invoiced, YYYY-MM")
    amount: Money
    status: InvoiceStatus
    card_last4: str | None
    failure_message: str | None = None
    created_at: datetime
    paid_at: datetime | None
    lines: list[InvoiceLine]


class InvoiceList(ResponseModel):
    items: list[Invoice]


# --- credits ----------------------------------------------------------------------------


class ProcessTypePrice(ResponseModel):
    process_type: str
    label: str
    unit_price: Money
    billing: BillingMode
    free_quota: int = Field(description="units free each calendar month (UTC)")


class PriceCatalog(ResponseModel):
    items: list[ProcessTypePrice]


class FreeQuota(ResponseModel):
    process_type: str
    used: int
    limit: int
    resets_at: datetime


class AutoRecharge(ResponseModel):
    """The auto-recharge rule (DESIGN.md §7). Off with ``consecutive_failures`` ≥ 3 means the
    rule turned itself off after failed charges."""

    enabled: bool
    threshold: Money | None = None
    recharge_to: Money | None = None
    last_failure: AutoRechargeFailure | None = None
    consecutive_failures: int = 0


class AccountStatus(ResponseModel):
    account: AccountRef
    purchase_credits: Money
    card_on_file: CardSummary | None
    free_quotas: list[FreeQuota]
    auto_recharge: AutoRecharge
    max_purchase: Money | None = Field(default=None, description="the largest purchase this server takes")


class Transaction(ResponseModel):
    id: int
    created_at: datetime
    transaction_type: TransactionType
    process_type: str | None
    user: UserRef | None
    amount: Money
    balance_after: Money
    description: str
    reference: str | None


class TransactionPage(ResponseModel):
    items: list[Transaction]
    next_cursor: str | None


class TransactionSummary(ResponseModel):
    count: int
    credits_added: Money
    credits_used: Money


class PurchaseRequest(WireModel):
    amount: PurchaseAmount


class Purchase(ResponseModel):
    id: int
    amount: Money
    charged_usd: Money
    card_last4: str
    created_at: datetime


class PurchaseResult(ResponseModel):
    purchase: Purchase
    transaction: Transaction
    purchase_credits: Money


class UsageRequest(WireModel):
    process_type: str = Field(min_length=1, max_length=64)
    quantity: int = Field(ge=1, le=100_000, strict=True)  # strict: true or "5" is not a quantity
    reference: str | None = Field(default=None, max_length=200)


class UsageResult(ResponseModel):
    process_type: str
    quantity: int
    free_quantity: int = Field(description="units covered by the free monthly quota")
    charged_quantity: int
    amount: Money = Field(description="credits used, non-negative")
    transaction: Transaction | None = Field(description="null when the free quota covered it all")
    purchase_credits: Money


class TransactionQuery(WireModel):
    """The filters of the transaction endpoints (list, summary, CSV), as a client sends them."""

    since: IsoDateTime | None = None
    until: IsoDateTime | None = None
    transaction_type: list[TransactionType] = Field(default_factory=list)
    process_type: list[str] = Field(default_factory=list)
    user: str | None = Field(default=None, min_length=1, max_length=254)
    q: str | None = Field(default=None, min_length=1, max_length=200)

    def to_params(self) -> list[tuple[str, str]]:
        params: list[tuple[str, str]] = []
        for name in ("since", "until"):
            moment: datetime | None = getattr(self, name)
            if moment is not None:
                params.append((name, moment.isoformat()))
        params += [("transaction_type", t.value) for t in self.transaction_type]
        params += [("process_type", p) for p in self.process_type]
        params += [(name, value) for name in ("user", "q") if (value := getattr(self, name))]
        return params



# --- where the credits go, receipts (DESIGN.md §8–§9) -------------------------------------


UtcDay = Annotated[date, Field(description="a calendar day, UTC")]


class DailyUsageDay(ResponseModel):
    date: UtcDay
    process_type: str
    credits_used: Money = Field(description="credits the day's usage of this process type took, non-negative")
    quantity: int = Field(description="units charged (free-quota units are not transactions)")


class DailyUsage(ResponseModel):
    """Usage per day and process type, oldest day first; days without usage are left out."""

    days: list[DailyUsageDay]
    currency: Literal["credits"] = "credits"


class ReceiptCard(ResponseModel):
    brand: str
    last4: str


class Seller(ResponseModel):
    name: str
    address: list[str] = Field(description="postal address, one line per item")
    email: str | None = None


class Receipt(ResponseModel):
    number: str = Field(description="stable and unique, e.g. R-000001-00001234")
    transaction: Transaction
    account: AccountRef
    card: ReceiptCard | None = Field(description="the card charged; null when no card is known")
    amount_usd: Money
    issued_at: datetime
    seller: Seller


# --- never run out: auto-recharge, alerts, notifications (DESIGN.md §7) -----------------

AUTO_RECHARGE_MAX_FAILURES = 3


class AutoRechargeFailure(ResponseModel):
    at: datetime
    code: str = Field(description="card_declined, insufficient_funds, expired_card, processing_error")
    message: str


class AutoRechargeUpdate(WireModel):
    """PUT /billing/auto-recharge: the whole rule. Turning it on needs both amounts."""

    enabled: bool
    threshold: Money | None = None
    recharge_to: Money | None = None


class NotificationSettings(ResponseModel):
    low_balance_threshold: Money | None
    recipients: list[int] = Field(description="user ids of the account told about events")


class NotificationSettingsUpdate(WireModel):
    low_balance_threshold: Money | None = None
    recipients: list[int] = Field(max_length=100)


class NotificationKind(StrEnum):
    low_balance = "low_balance"
    auto_recharge_failed = "auto_recharge_failed"
    auto_recharge_disabled = "auto_recharge_disabled"
    purchase_receipt = "purchase_receipt"
    invoice_paid = "invoice_paid"
    invoice_failed = "invoice_failed"
    card_expiring = "card_expiring"


class Notification(ResponseModel):
    id: int
    created_at: datetime
    kind: NotificationKind
    subject: str
    body: str
    recipients: list[str] = Field(description="email addresses, as of the event")
    delivered_at: datetime | None = Field(description="null while pending, or when no SMTP server is configured")


class NotificationPage(ResponseModel):
    items: list[Notification]
    next_cursor: str | None
# --- audit log (DESIGN.md §8) -------------------------------------------------------------


class AuditAction(StrEnum):
    """What an audit row records, as a dotted verb. The app and the CLI offer these as filters."""

    sign_in = "auth.sign_in"
    sign_out = "auth.sign_out"
    card_add = "card.add"
    card_replace = "card.replace"
    card_edit = "card.edit"
    card_remove_refused = "card.remove_refused"
    purchase_create = "purchase.create"
    export_csv = "transactions.export_csv"
    auto_recharge_update = "auto_recharge.update"
    alerts_update = "alerts.update"


AUDIT_ACTIONS: tuple[str, ...] = tuple(action.value for action in AuditAction)


class AuditOutcome(StrEnum):
    success = "success"
    failure = "failure"  # e.g. a wrong password, an invalid card, the processor failing
    declined = "declined"  # the card issuer refused a card check or a charge
    refused = "refused"  # the product refused: too many sign-ins, card removal, no card to buy with


# Safe facts only: amounts as money strings, last four, brand, an email tried, error codes.
AuditDetailValue = str | int | bool | None


class AuditEvent(ResponseModel):
    id: int
    at: datetime
    actor: UserRef | None = Field(description="who acted; null when nobody was signed in, e.g. a failed sign-in")
    # A plain string, not the enum: an older client still lists actions a newer server records.
    action: str
    target: str | None = Field(description="what was acted on, e.g. user:12, card, transaction:345")
    ip: str | None
    outcome: AuditOutcome
    detail: dict[str, AuditDetailValue]


class AuditPage(ResponseModel):
    """Newest first; ``next_cursor`` fetches the older rows."""

    items: list[AuditEvent]
    next_cursor: str | None


class AuditQuery(WireModel):
    since: IsoDateTime | None = None
    until: IsoDateTime | None = None
    action: list[AuditAction] = Field(default_factory=list)
    actor: str | None = Field(default=None, min_length=1, max_length=254, description="user id or email")

    def to_params(self) -> list[tuple[str, str]]:
        params = [(name, moment.isoformat()) for name in ("since", "until")
                  if (moment := getattr(self, name)) is not None]
        params += [("action", action.value) for action in self.action]
        if self.actor:
            params.append(("actor", self.actor))
        return params
