"""Auto-recharge (DESIGN.md §7): when a debit leaves the balance below the threshold, charge
the card on file up to the recharge-to amount, exactly once per crossing.

How "once" holds under concurrent debits and several worker processes:

1. ``claim`` runs inside the debit's own unit of work, with the account row locked. It adds
   an ``auto_recharge_attempts`` row (state ``pending``, a unique gateway key, the amount)
   unless one is pending already: the debits that follow see it and claim nothing.
2. After that unit of work commits, the claiming request charges the card with the
   attempt's key (``run``); the gateway is idempotent per key.
3. The outcome is recorded under the account lock, only while the attempt is still
   ``pending``: the ``auto_recharge`` transaction (reference = the charge id, so
   ``credits-tui reconcile`` matches it) and a receipt, or the failure and its notification.

A worker that dies between 1 and 3 leaves a pending attempt whose lease runs out; the next
debit below the threshold takes it over and charges again with the same key and amount,
which returns the first charge if there was one. So a card is charged at most once per
attempt, and an attempt writes at most one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from credits_tui.api_client.models import (
    AUTO_RECHARGE_MAX_FAILURES,
    AUTO_RECHARGE_MIN_CHARGE,
    AuditAction,
    AuditOutcome,
    AutoRecharge,
    AutoRechargeFailure,
    AutoRechargeUpdate,
    NotificationKind,
    TransactionType,
    cents_to_decimal,
    decimal_to_cents,
    format_money,
    recharge_to_problem,
)
from credits_tui.backend.config import Settings
from credits_tui.backend.db.engine import Database, lock_account
from credits_tui.backend.db.schema import Account, AutoRechargeAttempt
from credits_tui.backend.errors import Unprocessable
from credits_tui.backend.services import audit, ledger, notifications
from credits_tui.backend.services.billing import card_on_file, require_card
from credits_tui.backend.services.payments import ChargeDeclined, GatewayUnavailable, PaymentGateway

MINIMUM_RECHARGE_CENTS = decimal_to_cents(AUTO_RECHARGE_MIN_CHARGE)


@dataclass(frozen=True)
class Claim:
    """An attempt this request must carry out once its debit has committed."""

    attempt_id: int
    account_id: int
    key: str
    amount_cents: int
    claimed_until: datetime


def auto_recharge_model(account: Account) -> AutoRecharge:
    failure = None
    if account.auto_recharge_failed_at is not None:
        failure = AutoRechargeFailure(at=account.auto_recharge_failed_at,
                                      code=account.auto_recharge_failure_code or "card_declined",
                                      message=account.auto_recharge_failure_message or "")
    threshold, to = account.auto_recharge_threshold_cents, account.auto_recharge_to_cents
    return AutoRecharge(enabled=account.auto_recharge_enabled,
                        threshold=None if threshold is None else cents_to_decimal(threshold),
                        recharge_to=None if to is None else cents_to_decimal(to),
                        last_failure=failure, consecutive_failures=account.auto_recharge_failures)


def rule_text(account: Account) -> str:
    return (f"Auto-recharge: balance below {notifications.credits(account.auto_recharge_threshold_cents or 0)}, "
            f"recharged to {notifications.credits(account.auto_recharge_to_cents or 0)}")


def claim_after_debit(session: Session, account: Account, settings: Settings, debit_id: int) -> Claim | None:
    """After the debit ``debit_id`` on the locked ``account``: the attempt this request should run, if any.

    The debit that crossed names the crossing, and so the gateway key.
    """
    threshold = account.auto_recharge_threshold_cents
    if not account.auto_recharge_enabled or threshold is None or account.balance_cents >= threshold:
        return None
    now = ledger.utc_now()
    lease = now + settings.auto_recharge_lease
    pending = session.scalars(select(AutoRechargeAttempt).where(
        AutoRechargeAttempt.account_id == account.id, AutoRechargeAttempt.state == "pending")).first()
    if pending is not None:
        if pending.claimed_until > now:
            return None  # its owner is at work: this crossing is being answered
        pending.claimed_until = lease  # its owner died: take it over, same key, same amount
        return Claim(pending.id, account.id, pending.key, pending.amount_cents, lease)
    if card_on_file(session, account.id) is None:
        return None
    wanted = (account.auto_recharge_to_cents or 0) - account.balance_cents
    amount = min(max(wanted, MINIMUM_RECHARGE_CENTS), decimal_to_cents(settings.max_purchase))
    attempt = AutoRechargeAttempt(account_id=account.id, key=f"auto_recharge:{account.id}:{debit_id}",
                                  amount_cents=amount, state="pending", claimed_until=lease, created_at=now)
    session.add(attempt)
    session.flush()
    return Claim(attempt.id, account.id, attempt.key, amount, lease)


class AutoRechargeService:
    def __init__(self, database: Database, settings: Settings, gateway: PaymentGateway) -> None:
        self.db = database
        self.settings = settings
        self.gateway = gateway

    def get(self, account_id: int) -> AutoRecharge:
        with self.db.read() as session:
            return auto_recharge_model(session.get_one(Account, account_id))

    def put(self, origin: audit.Origin, update: AutoRechargeUpdate) -> AutoRecharge:
        """Save the rule, with its audit row; a refused rule is audited too, and saves nothing."""
        facts: audit.Detail = {"enabled": update.enabled,
                               "threshold": None if update.threshold is None else format_money(update.threshold),
                               "recharge_to": None if update.recharge_to is None else format_money(update.recharge_to)}
        with audit.refusals_recorded(self.db, origin, AuditAction.auto_recharge_update, "auto_recharge", facts):
            return self._put(origin, update, facts)

    def _put(self, origin: audit.Origin, update: AutoRechargeUpdate, facts: audit.Detail) -> AutoRecharge:
        threshold, to = update.threshold, update.recharge_to
        if update.enabled or threshold is not None or to is not None:
            if threshold is None:
                raise Unprocessable("threshold_required", "Give the balance below which to recharge.", "threshold")
            if to is None:
                raise Unprocessable("recharge_to_required", "Give the balance to recharge to.", "recharge_to")
            if threshold < 0:
                raise Unprocessable("invalid_threshold", "The threshold cannot be negative.", "threshold")
            # A rule kept switched off is not held to the bounds that make one charge reach
            # recharge_to: one saved before them can still be turned off.
            if problem := recharge_to_problem(threshold, to, enabled=update.enabled):
                raise Unprocessable("recharge_to_not_above_threshold", problem, "recharge_to")
            if update.enabled and to > self.settings.max_purchase:
                # Then one charge would not reach recharge_to from an empty balance: the balance
                # stayed below the threshold after a recharge, and every debit charged the card
                # the largest purchase again. (Below zero, which only invoiced usage makes, a
                # balance can still need more than one charge.)
                raise Unprocessable("recharge_to_above_maximum",
                                    f"Recharge to at most {format_money(self.settings.max_purchase)} credits: one "
                                    "charge buys no more than that.", "recharge_to")
        with self.db.write() as session:
            account = lock_account(session, origin.account_id)
            if update.enabled:
                require_card(session, origin.account_id,
                             "Add a credit card on the Billing screen to turn on auto-recharge.")
                if not account.auto_recharge_enabled:
                    account.auto_recharge_failures = 0  # a fresh start; the last failure stays on record
            account.auto_recharge_enabled = update.enabled
            if threshold is not None and to is not None:
                account.auto_recharge_threshold_cents = decimal_to_cents(threshold)
                account.auto_recharge_to_cents = decimal_to_cents(to)
            audit.record(session, account_id=origin.account_id, actor=origin.user_id,
                         action=AuditAction.auto_recharge_update, target="auto_recharge", ip=origin.ip,
                         outcome=AuditOutcome.success, detail=facts)
            return auto_recharge_model(account)

    def run(self, claim: Claim) -> None:
        """Charge for a claimed attempt (never inside a unit of work) and record the outcome."""
        with self.db.read() as session:
            card = card_on_file(session, claim.account_id)
            token, last4 = (card.gateway_token, card.last4) if card else (None, "")
        failure: tuple[str, str] | None = None
        charge_id = ""
        if token is None:
            failure = ("card_required", "There is no card on file.")
        else:
            try:
                charge_id = self.gateway.charge(token, claim.amount_cents, idempotency_key=claim.key).id
            except ChargeDeclined as declined:
                failure = (declined.code, declined.message)
            except GatewayUnavailable:
                failure = ("processing_error", "The payment processor could not be reached.")
        with self.db.write() as session:
            account = lock_account(session, claim.account_id)
            attempt = session.get_one(AutoRechargeAttempt, claim.attempt_id)
            if attempt.state != "pending":
                return  # the owner it was taken from recorded it after all
            if failure is None:
                self._succeeded(session, account, attempt, charge_id, last4)
            else:
                self._failed(session, account, attempt, *failure)

    @staticmethod
    def _succeeded(session: Session, account: Account, attempt: AutoRechargeAttempt, charge_id: str,
                   last4: str) -> None:
        row = ledger.append(session, account, transaction_type=TransactionType.auto_recharge,
                            amount_cents=attempt.amount_cents, description=rule_text(account), reference=charge_id)
        attempt.state, attempt.transaction_id = "succeeded", row.id
        account.auto_recharge_failures = 0
        notifications.purchase_receipt(session, account, amount_cents=attempt.amount_cents, charge_id=charge_id,
                                       card_last4=last4, automatic=True)

    @staticmethod
    def _failed(session: Session, account: Account, attempt: AutoRechargeAttempt, code: str, message: str) -> None:
        now = ledger.utc_now()
        attempt.state = "failed"
        account.auto_recharge_failures += 1
        account.auto_recharge_failed_at = now
        account.auto_recharge_failure_code, account.auto_recharge_failure_message = code, message[:300]
        amount = notifications.credits(attempt.amount_cents)
        notifications.notify(
            session, account, NotificationKind.auto_recharge_failed, "Auto-recharge failed",
            f"Auto-recharge of {amount} could not be charged: {message}\n"
            f"The balance is {notifications.credits(account.balance_cents)}. "
            f"It will be tried again on the next use of credits while the balance is below "
            f"{notifications.credits(account.auto_recharge_threshold_cents or 0)}.", at=now)
        if account.auto_recharge_failures >= AUTO_RECHARGE_MAX_FAILURES and account.auto_recharge_enabled:
            account.auto_recharge_enabled = False
            notifications.notify(
                session, account, NotificationKind.auto_recharge_disabled, "Auto-recharge turned off",
                f"Auto-recharge failed {account.auto_recharge_failures} times in a row and has turned itself "
                "off. Check the card on file on the Billing screen, then turn auto-recharge on again.", at=now)
