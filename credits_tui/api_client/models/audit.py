"""The audit log: who did what, when and with what outcome (DESIGN.md §8)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from credits_tui.api_client.models.account import UserRef
from credits_tui.api_client.models.wire import IsoDateTime, ResponseModel, WireModel


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
