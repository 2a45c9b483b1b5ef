"""What an account looks like to its users: status, free quotas, members."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select

from credits_tui.api_client.models import (
    AccountRef,
    AccountStatus,
    AccountUser,
    FreeQuota,
    Role,
    UserList,
    cents_to_decimal,
)
from credits_tui.backend.config import Settings
from credits_tui.backend.db.engine import Database
from credits_tui.backend.db.schema import Account, QuotaUsage, User
from credits_tui.backend.services.auto_recharge import auto_recharge_model
from credits_tui.backend.services.billing import card_on_file, card_summary
from credits_tui.backend.services.ledger import utc_now


def month_period(moment: datetime) -> str:
    return f"{moment.year:04d}-{moment.month:02d}"


def next_month_start(moment: datetime) -> datetime:
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return datetime(year, month, 1, tzinfo=timezone.utc)


class AccountService:
    def __init__(self, database: Database, settings: Settings) -> None:
        self.db = database
        self.settings = settings

    def status(self, account_id: int) -> AccountStatus:
        now = utc_now()
        with self.db.read() as session:
            account = session.get_one(Account, account_id)
            card = card_on_file(session, account_id)
            used = dict(session.execute(
                select(QuotaUsage.process_type, QuotaUsage.used).where(
                    QuotaUsage.account_id == account_id, QuotaUsage.period == month_period(now))
            ).all())
        quotas = [
            FreeQuota(process_type=price.process_type, used=min(used.get(price.process_type, 0), price.free_quota),
                      limit=price.free_quota, resets_at=next_month_start(now))
            for price in self.settings.prices if price.free_quota > 0
        ]
        return AccountStatus(
            account=AccountRef(id=account.id, name=account.name),
            purchase_credits=cents_to_decimal(account.balance_cents),
            card_on_file=card_summary(card) if card else None,
            free_quotas=quotas,
            auto_recharge=auto_recharge_model(account),
            max_purchase=self.settings.max_purchase,
        )

    def users(self, account_id: int) -> UserList:
        with self.db.read() as session:
            users = session.scalars(select(User).where(User.account_id == account_id).order_by(User.name)).all()
        return UserList(items=[AccountUser(id=u.id, name=u.name, email=u.email, role=Role(u.role)) for u in users])
